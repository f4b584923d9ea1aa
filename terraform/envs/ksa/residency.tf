locals {
  residency = "KSA"
}
