//! Small helpers shared by the HTTP backends (the OpenAI-compatible LLM, Mem0).

use std::future::Future;

/// Runs `work` to completion from synchronous code: on the current runtime when called from
/// one of its blocking threads (where the engine runs steps), else on a small runtime of
/// its own (the CLI's memory commands).
pub fn block_on<T>(work: impl Future<Output = T>) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(work)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(work))
            .map_err(|e| format!("cannot start a runtime: {e}")),
    }
}

/// The innermost cause of an error, which says what actually went wrong (refused, reset,
/// name not found) where the outer layers only say "error sending request".
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
