//! The pest-generated parser. Private to `parse/`: nothing outside sees pest types.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/pipeline.pest"]
pub(super) struct PipelineParser;
