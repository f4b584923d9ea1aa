"""Melmastoon reporting-service: the shared library behind every function and job."""
