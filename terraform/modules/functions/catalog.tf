# Every function crate under functions/, with its settings, environment and
# IAM statements. The consistency test (tests/infra) checks this catalog against
# the code: each crate has an entry; each entry's environment is what the
# crate's adapters read; each statement list is exactly what its adapters call
# (jarvis-aws `iam::OPERATIONS`). Resources are the locals in main.tf.
# Plain maps and lists on purpose: the test reads them without evaluating HCL.
#
# trigger: what invokes the function — "ingest_queue" (SQS mapping),
# "state_machine" (a Task state), "http_api" (routes below), "websocket" (the
# streaming API's routes), "websocket_authorizer" (its $connect authorizer),
# "reminders" (Scheduler, one-time and recurring reminders) or "nightly" (a
# nightly schedule). The stack wires each to its invoker.

locals {
  functions = {
    "pipeline-router" = {
      description = "Starts one pipeline run per raw object version (SQS batch, partial failures)."
      memory      = 256
      timeout     = var.router_timeout_seconds
      reserved    = 10 # caps StartExecution and DynamoDB writes during a bulk upload
      trigger     = "ingest_queue"
      env = {
        JARVIS_OWNER_TENANT      = var.owner_tenant
        JARVIS_RAW_BUCKET        = var.raw_bucket
        JARVIS_CURATED_BUCKET    = var.curated_bucket
        JARVIS_TABLE             = var.table_name
        JARVIS_STATE_MACHINE_ARN = var.state_machine_arn
      }
      statements = [
        { actions = ["s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"], resources = [local.raw_objects] },
        { actions = ["s3:DeleteObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket", "s3:ListBucketVersions"], resources = [local.raw_bucket] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
        { actions = ["kms:Decrypt"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["states:StartExecution"], resources = [local.state_machine] },
      ]
    }

    "extract-document" = {
      description = "Text from PDF, DOCX, HTML, Markdown, text and JSON; Textract OCR for scans."
      memory      = 1024
      timeout     = 300
      reserved    = 20 # Textract's transactions-per-second quota
      trigger     = "state_machine"
      env = {
        JARVIS_RAW_BUCKET     = var.raw_bucket
        JARVIS_CURATED_BUCKET = var.curated_bucket
        JARVIS_TABLE          = var.table_name
      }
      statements = [
        { actions = ["s3:GetObject"], resources = [local.raw_objects] },
        { actions = ["s3:ListBucket"], resources = [local.raw_bucket] },
        { actions = ["s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["textract:DetectDocumentText", "textract:StartDocumentTextDetection", "textract:GetDocumentTextDetection"], resources = [local.any] },
      ]
    }

    "extract-image" = {
      description = "Text (Textract) and labels (Rekognition) from images."
      memory      = 512
      timeout     = 120
      reserved    = 20 # Textract's and Rekognition's transactions-per-second quotas
      trigger     = "state_machine"
      env = {
        JARVIS_RAW_BUCKET     = var.raw_bucket
        JARVIS_CURATED_BUCKET = var.curated_bucket
        JARVIS_TABLE          = var.table_name
      }
      statements = [
        { actions = ["s3:GetObject"], resources = [local.raw_objects] },
        { actions = ["s3:ListBucket"], resources = [local.raw_bucket] },
        { actions = ["s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["textract:DetectDocumentText", "textract:StartDocumentTextDetection", "textract:GetDocumentTextDetection", "rekognition:DetectLabels"], resources = [local.any] },
      ]
    }

    "extract-audio" = {
      description = "Starts and polls a Transcribe job; reads its transcript from the curated bucket."
      memory      = 256
      timeout     = 60
      reserved    = null
      trigger     = "state_machine"
      env = {
        JARVIS_CURATED_BUCKET = var.curated_bucket
        JARVIS_TABLE          = var.table_name
      }
      statements = [
        { actions = ["s3:GetObject"], resources = [local.raw_objects, local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
        { actions = ["s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["transcribe:StartTranscriptionJob", "transcribe:GetTranscriptionJob"], resources = [local.transcription_jobs] },
      ]
    }

    "parse-email" = {
      description = "MIME mail: the body becomes a document, each attachment a new raw object."
      memory      = 512
      timeout     = 120
      reserved    = null
      trigger     = "state_machine"
      env = {
        JARVIS_RAW_BUCKET     = var.raw_bucket
        JARVIS_CURATED_BUCKET = var.curated_bucket
        JARVIS_TABLE          = var.table_name
      }
      statements = [
        { actions = ["s3:GetObject", "s3:PutObject"], resources = [local.raw_objects] },
        { actions = ["s3:ListBucket"], resources = [local.raw_bucket] },
        { actions = ["s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
      ]
    }

    "detect-pii" = {
      description = "Comprehend: PII (masked when JARVIS_PII_REDACT), language, entities, key phrases."
      memory      = 256
      timeout     = 120
      reserved    = null
      trigger     = "state_machine"
      env = {
        JARVIS_CURATED_BUCKET = var.curated_bucket
        JARVIS_PII_REDACT     = tostring(var.pii_redact)
      }
      statements = [
        { actions = ["s3:GetObject", "s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["comprehend:DetectPiiEntities", "comprehend:DetectDominantLanguage", "comprehend:DetectEntities", "comprehend:DetectKeyPhrases"], resources = [local.any] },
      ]
    }

    "chunk" = {
      description = "Normalises and chunks the extracted text (canonical JSON in the curated bucket)."
      memory      = 512
      timeout     = 60
      reserved    = null
      trigger     = "state_machine"
      env = {
        JARVIS_CURATED_BUCKET = var.curated_bucket
      }
      statements = [
        { actions = ["s3:GetObject", "s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
      ]
    }

    "embed" = {
      description = "Bedrock Titan embeddings for every chunk."
      memory      = 512
      timeout     = 300
      reserved    = 10 # Bedrock's InvokeModel quota
      trigger     = "state_machine"
      env = {
        JARVIS_CURATED_BUCKET   = var.curated_bucket
        JARVIS_EMBED_MODEL_ID   = var.embed_model_id
        JARVIS_EMBED_DIMENSIONS = tostring(var.embed_dimensions)
      }
      statements = [
        { actions = ["s3:GetObject", "s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["bedrock:InvokeModel"], resources = local.models },
      ]
    }

    "index" = {
      description = "Bulk-upserts the chunks into OpenSearch and marks the document indexed."
      memory      = 512
      timeout     = 120
      reserved    = 10 # OpenSearch Serverless indexing capacity
      trigger     = "state_machine"
      env = {
        JARVIS_CURATED_BUCKET      = var.curated_bucket
        JARVIS_TABLE               = var.table_name
        JARVIS_OPENSEARCH_ENDPOINT = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX    = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE  = "aoss"
        JARVIS_EMBED_DIMENSIONS    = tostring(var.embed_dimensions)
      }
      statements = [
        { actions = ["s3:GetObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
        { actions = ["kms:Decrypt"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
      ]
    }

    "mark-failed" = {
      description = "The state machine's Catch: marks the document failed with the reason; for a document deleted mid-run, removes what the run wrote."
      memory      = 256
      timeout     = 30
      reserved    = null
      trigger     = "state_machine"
      env = {
        JARVIS_TABLE               = var.table_name
        JARVIS_CURATED_BUCKET      = var.curated_bucket
        JARVIS_OPENSEARCH_ENDPOINT = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX    = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE  = "aoss"
        JARVIS_EMBED_DIMENSIONS    = tostring(var.embed_dimensions)
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["s3:DeleteObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.curated_bucket] },
      ]
    }

    "api-documents" = {
      description = "POST/GET /documents, GET/DELETE /documents/{id}; an upload is routed at once (pipeline-router's code)."
      memory      = 512
      timeout     = 29
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_OWNER_TENANT        = var.owner_tenant
        JARVIS_RAW_BUCKET          = var.raw_bucket
        JARVIS_CURATED_BUCKET      = var.curated_bucket
        JARVIS_TABLE               = var.table_name
        JARVIS_STATE_MACHINE_ARN   = var.state_machine_arn
        JARVIS_MAX_UPLOAD_BYTES    = tostring(var.max_upload_bytes)
        JARVIS_OPENSEARCH_ENDPOINT = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX    = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE  = "aoss"
        JARVIS_EMBED_DIMENSIONS    = tostring(var.embed_dimensions)
      }
      statements = [
        { actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"], resources = [local.raw_objects] },
        { actions = ["s3:DeleteObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.raw_bucket, local.curated_bucket] },
        { actions = ["s3:ListBucketVersions"], resources = [local.raw_bucket] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["states:StartExecution"], resources = [local.state_machine] },
      ]
    }

    "api-search" = {
      description = "POST /search: hybrid BM25 + k-NN over the caller's chunks, with citations."
      memory      = 512
      timeout     = 29
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_OPENSEARCH_ENDPOINT = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX    = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE  = "aoss"
        JARVIS_EMBED_DIMENSIONS    = tostring(var.embed_dimensions)
        JARVIS_EMBED_MODEL_ID      = var.embed_model_id
      }
      statements = [
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["bedrock:InvokeModel"], resources = local.models },
      ]
    }

    "api-chat" = {
      description = "POST /chat: retrieval, Bedrock Converse with tools (the tool functions), citations, stored conversations."
      memory      = 512
      timeout     = 29
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_TABLE                = var.table_name
        JARVIS_OPENSEARCH_ENDPOINT  = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX     = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE   = "aoss"
        JARVIS_EMBED_DIMENSIONS     = tostring(var.embed_dimensions)
        JARVIS_EMBED_MODEL_ID       = var.embed_model_id
        JARVIS_CHAT_MODEL_ID        = var.chat_model_id
        JARVIS_TOOL_FUNCTION_PREFIX = "${var.prefix}-"
        JARVIS_FUNCTION_ALIAS       = local.alias
        JARVIS_TIME_ZONE            = var.time_zone
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], resources = local.models },
        # The first Claude call in an account starts its Marketplace subscription as this role.
        { actions = ["aws-marketplace:Subscribe", "aws-marketplace:Unsubscribe", "aws-marketplace:ViewSubscriptions"], resources = [local.any] },
        { actions = ["lambda:InvokeFunction"], resources = local.tool_functions },
      ]
    }

    "chat-stream" = {
      description = "The WebSocket API: chat turns streamed to the client (deltas, tool events) through @connections."
      memory      = 512
      timeout     = 120 # API Gateway stops waiting after 29 s; the turn keeps posting
      reserved    = null
      trigger     = "websocket"
      env = {
        JARVIS_TABLE                = var.table_name
        JARVIS_OPENSEARCH_ENDPOINT  = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX     = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE   = "aoss"
        JARVIS_EMBED_DIMENSIONS     = tostring(var.embed_dimensions)
        JARVIS_EMBED_MODEL_ID       = var.embed_model_id
        JARVIS_CHAT_MODEL_ID        = var.chat_model_id
        JARVIS_TOOL_FUNCTION_PREFIX = "${var.prefix}-"
        JARVIS_FUNCTION_ALIAS       = local.alias
        JARVIS_TIME_ZONE            = var.time_zone
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], resources = local.models },
        # The first Claude call in an account starts its Marketplace subscription as this role.
        { actions = ["aws-marketplace:Subscribe", "aws-marketplace:Unsubscribe", "aws-marketplace:ViewSubscriptions"], resources = [local.any] },
        { actions = ["lambda:InvokeFunction"], resources = local.tool_functions },
        { actions = ["execute-api:ManageConnections"], resources = [local.connections] },
      ]
    }

    "ws-authorizer" = {
      description = "Authorizes WebSocket connections: the user pool token from the query string (JWKS, issuer, client, expiry)."
      memory      = 128
      timeout     = 10
      reserved    = null
      trigger     = "websocket_authorizer"
      env = {
        JARVIS_AUTH_ISSUER   = var.auth_issuer
        JARVIS_AUTH_AUDIENCE = join(",", var.auth_audience)
      }
      statements = []
    }

    "tool-tasks" = {
      description = "Tasks: the assistant's task tools and /tasks."
      memory      = 256
      timeout     = 15
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_TABLE     = var.table_name
        JARVIS_TIME_ZONE = var.time_zone
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = local.table },
      ]
    }

    "tool-reminders" = {
      description = "Reminders: the assistant's reminder tools and /reminders; Scheduler schedules targeting reminder-fire."
      memory      = 256
      timeout     = 15
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_TABLE               = var.table_name
        JARVIS_TIME_ZONE           = var.time_zone
        JARVIS_SCHEDULE_GROUP      = var.schedule_group
        JARVIS_SCHEDULER_ROLE_ARN  = var.scheduler_role_arn
        JARVIS_REMINDER_TARGET_ARN = local.reminder_target_arn
        JARVIS_REMINDER_DLQ_ARN    = var.reminder_dlq_arn
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = local.table },
        { actions = ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"], resources = [local.schedules] },
        { actions = ["scheduler:ListSchedules"], resources = [local.any] },
        { actions = ["iam:PassRole"], resources = [local.scheduler_role] },
      ]
    }

    "tool-email" = {
      description = "E-mail drafts, sent through SES only on the user's confirmation; /emails/drafts."
      memory      = 256
      timeout     = 15
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_TABLE     = var.table_name
        JARVIS_MAIL_FROM = var.mail_from
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["ses:SendEmail"], resources = [local.mail_identity] },
      ]
    }

    "reminder-fire" = {
      description = "The reminders' Scheduler target: notifies through SNS and the owner's open WebSocket connections once per occurrence, marks late ones."
      memory      = 256
      timeout     = 15
      reserved    = null
      trigger     = "reminders"
      env = {
        JARVIS_TABLE              = var.table_name
        JARVIS_REMINDER_TOPIC_ARN = var.reminder_topic_arn
        JARVIS_TIME_ZONE          = var.time_zone
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = local.table },
        { actions = ["sns:Publish"], resources = [local.reminder_topic] },
        { actions = ["kms:GenerateDataKey", "kms:Decrypt"], resources = [local.kms_key] },
        { actions = ["execute-api:ManageConnections"], resources = [local.connections] },
      ]
    }

    "api-me" = {
      description = "The caller's data rights and settings: DELETE /me/data starts erase-tenant and GET /me/data/erasure reports it, GET /me/export archives everything, /me/settings holds the time zone, /me/notifications the address reminders are mailed to."
      memory      = 1024
      timeout     = 29
      reserved    = null
      trigger     = "http_api"
      env = {
        JARVIS_RAW_BUCKET         = var.raw_bucket
        JARVIS_CURATED_BUCKET     = var.curated_bucket
        JARVIS_TABLE              = var.table_name
        JARVIS_TIME_ZONE          = var.time_zone
        JARVIS_REMINDER_TOPIC_ARN = var.reminder_topic_arn
        JARVIS_ERASE_FUNCTION     = "${var.prefix}-erase-tenant"
        JARVIS_FUNCTION_ALIAS     = local.alias
      }
      statements = [
        { actions = ["s3:GetObject"], resources = [local.raw_objects] },
        { actions = ["s3:GetObject", "s3:PutObject"], resources = [local.curated_objects] },
        { actions = ["s3:ListBucket"], resources = [local.raw_bucket, local.curated_bucket] },
        { actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [local.kms_key] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], resources = local.table },
        { actions = ["sns:Subscribe", "sns:Unsubscribe"], resources = [local.reminder_topic] },
        { actions = ["lambda:InvokeFunction"], resources = local.job_functions },
      ]
    }

    "erase-tenant" = {
      description = "Erases everything of one tenant as a job (started by DELETE /me/data): index entries, pipeline runs, schedules, transcription jobs, records, documents, and every version of the tenant's files."
      memory      = 512
      timeout     = 900
      reserved    = null
      trigger     = "async_invoke"
      env = {
        JARVIS_OWNER_TENANT        = var.owner_tenant
        JARVIS_RAW_BUCKET          = var.raw_bucket
        JARVIS_CURATED_BUCKET      = var.curated_bucket
        JARVIS_TABLE               = var.table_name
        JARVIS_SCHEDULE_GROUP      = var.schedule_group
        JARVIS_OPENSEARCH_ENDPOINT = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX    = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE  = "aoss"
        JARVIS_EMBED_DIMENSIONS    = tostring(var.embed_dimensions)
        JARVIS_REMINDER_TOPIC_ARN  = var.reminder_topic_arn
        JARVIS_STATE_MACHINE_ARN   = var.state_machine_arn
      }
      statements = [
        { actions = ["s3:DeleteObject", "s3:DeleteObjectVersion"], resources = [local.raw_objects] },
        { actions = ["s3:DeleteObjectVersion"], resources = [local.curated_objects] },
        { actions = ["states:StopExecution"], resources = [local.executions] },
        { actions = ["s3:ListBucket", "s3:ListBucketVersions"], resources = [local.raw_bucket] },
        { actions = ["s3:ListBucketVersions"], resources = [local.curated_bucket] },
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["scheduler:DeleteSchedule"], resources = [local.schedules] },
        { actions = ["sns:Unsubscribe"], resources = [local.reminder_topic] },
        { actions = ["transcribe:DeleteTranscriptionJob"], resources = [local.transcription_jobs] },
        { actions = ["transcribe:ListTranscriptionJobs"], resources = [local.any] },
      ]
    }

    "memory-reflector" = {
      description = "Nightly (or on demand): new conversations become memories chat retrieves."
      memory      = 512
      timeout     = 900
      reserved    = 1 # one nightly pass at a time
      trigger     = "nightly"
      env = {
        JARVIS_TABLE               = var.table_name
        JARVIS_EMBED_MODEL_ID      = var.embed_model_id
        JARVIS_CHAT_MODEL_ID       = var.chat_model_id
        JARVIS_OPENSEARCH_ENDPOINT = var.opensearch_endpoint
        JARVIS_OPENSEARCH_INDEX    = var.opensearch_index
        JARVIS_OPENSEARCH_SERVICE  = "aoss"
        JARVIS_EMBED_DIMENSIONS    = tostring(var.embed_dimensions)
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:Scan"], resources = local.table },
        { actions = ["aoss:APIAccessAll"], resources = [local.collection] },
        { actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], resources = local.models },
        # The first Claude call in an account starts its Marketplace subscription as this role.
        { actions = ["aws-marketplace:Subscribe", "aws-marketplace:Unsubscribe", "aws-marketplace:ViewSubscriptions"], resources = [local.any] },
      ]
    }
  }

  # HTTP API routes → function. `GET /healthz` needs no token.
  routes = {
    "GET /healthz"                  = "api-search"
    "POST /search"                  = "api-search"
    "POST /documents"               = "api-documents"
    "POST /uploads"                 = "api-documents"
    "GET /documents"                = "api-documents"
    "GET /documents/{id}"           = "api-documents"
    "GET /documents/{id}/original"  = "api-documents"
    "GET /conversations"            = "api-chat"
    "GET /conversations/{id}"       = "api-chat"
    "DELETE /conversations/{id}"    = "api-chat"
    "DELETE /documents/{id}"        = "api-documents"
    "POST /chat"                    = "api-chat"
    "POST /tasks"                   = "tool-tasks"
    "GET /tasks"                    = "tool-tasks"
    "POST /tasks/{id}/complete"     = "tool-tasks"
    "DELETE /tasks/{id}"            = "tool-tasks"
    "PATCH /tasks/{id}"             = "tool-tasks"
    "POST /reminders"               = "tool-reminders"
    "GET /reminders"                = "tool-reminders"
    "DELETE /reminders/{id}"        = "tool-reminders"
    "PATCH /reminders/{id}"         = "tool-reminders"
    "POST /emails/drafts"           = "tool-email"
    "GET /emails/drafts"            = "tool-email"
    "POST /emails/drafts/{id}/send" = "tool-email"
    "PATCH /emails/drafts/{id}"     = "tool-email"
    "DELETE /me/data"               = "api-me"
    "GET /me/data/erasure"          = "api-me"
    "GET /me/export"                = "api-me"
    "GET /me/settings"              = "api-me"
    "PUT /me/settings"              = "api-me"
    "PUT /me/notifications"         = "api-me"
    "DELETE /me/notifications"      = "api-me"
  }
}
