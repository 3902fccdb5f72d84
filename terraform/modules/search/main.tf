# OpenSearch Serverless vector-search collection: KMS encryption, a network
# policy (SigV4-signed HTTPS from the functions; no dashboards) and a data-access
# policy that lets only the functions that use the index read or write it.

locals {
  collection = "${var.prefix}-search"
}

resource "aws_opensearchserverless_security_policy" "encryption" {
  name = "${var.prefix}-enc"
  type = "encryption"
  policy = jsonencode({
    Rules = [{
      ResourceType = "collection"
      Resource     = ["collection/${local.collection}"]
    }]
    AWSOwnedKey = false
    KmsARN      = var.kms_key_arn
  })
}

resource "aws_opensearchserverless_security_policy" "network" {
  name = "${var.prefix}-net"
  type = "network"
  # Lambda functions run outside a VPC; every request is SigV4-signed and
  # authorised by the data-access policy below.
  policy = jsonencode([{
    Rules = [{
      ResourceType = "collection"
      Resource     = ["collection/${local.collection}"]
    }]
    AllowFromPublic = true
  }])
}

resource "aws_opensearchserverless_collection" "this" {
  name             = local.collection
  type             = "VECTORSEARCH"
  standby_replicas = var.standby_replicas ? "ENABLED" : "DISABLED"

  depends_on = [
    aws_opensearchserverless_security_policy.encryption,
    aws_opensearchserverless_security_policy.network,
  ]
}

resource "aws_opensearchserverless_access_policy" "functions" {
  name = "${var.prefix}-data"
  type = "data"
  policy = jsonencode([{
    Rules = [
      {
        ResourceType = "index"
        Resource     = ["index/${local.collection}/${var.index_name}*"]
        Permission = [
          "aoss:CreateIndex",
          "aoss:DescribeIndex",
          "aoss:UpdateIndex",
          "aoss:ReadDocument",
          "aoss:WriteDocument",
        ]
      },
      {
        ResourceType = "collection"
        Resource     = ["collection/${local.collection}"]
        Permission   = ["aoss:DescribeCollectionItems", "aoss:CreateCollectionItems", "aoss:UpdateCollectionItems"]
      },
    ]
    Principal = var.principal_arns
  }])
}
