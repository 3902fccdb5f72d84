output "collection_arn" {
  value = aws_opensearchserverless_collection.this.arn
}

output "endpoint" {
  value = aws_opensearchserverless_collection.this.collection_endpoint
}
