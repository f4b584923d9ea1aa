locals {
  residency = "AF"
}
