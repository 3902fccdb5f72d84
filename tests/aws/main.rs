//! The AWS adapters over real HTTP: the pipeline on the emulator, the adapters
//! without a local twin (SNS, SESv2, Scheduler, Textract, Rekognition,
//! Transcribe, Comprehend), retries and permanent errors, and Bedrock and
//! OpenSearch against recorded exchanges.

mod recorded;
mod services;
mod websocket;
