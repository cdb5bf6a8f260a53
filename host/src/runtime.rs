//! What a loaded policy needs of its host at run time: the engine, the limits and the epoch
//! deadline. A [`crate::Policy`] holds this, not the whole host, so `policy` never imports
//! `host` (which creates policies).

use crate::config::HostConfig;
use std::sync::Mutex;
use wasmtime::Engine;

/// The engine and limits every policy of one host shares.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub config: HostConfig,
    /// The epoch deadline of one evaluation, in ticks of `config.epoch_tick`.
    pub deadline_ticks: u64,
}

/// A poisoned lock only means another thread panicked while holding it; the maps and pools it
/// guards stay consistent (every update is a single insert or pop), so carry on.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
