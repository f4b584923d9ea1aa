"""Regulatory submission adapters: one package per authority (ZATCA for KSA VAT, ...)."""
