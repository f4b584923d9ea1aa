locals {
  residency = "IN"
}
