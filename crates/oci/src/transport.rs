//! How a registry is reached. Its own module so that the client (which picks a transport) and
//! the error classification (which words failures by transport) do not import each other.

/// How a registry is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS, verified against the system's root certificates.
    Https,
    /// Plain HTTP: loopback registries and [`ClientOptions::insecure_registries`] only.
    Http,
}
