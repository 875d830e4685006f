//! TLS for `wss://` through rustls (ring provider): bundled web roots, plus
//! extra certificate authorities for private deployments and tests.

use std::sync::Arc;

use futures_rustls::rustls::pki_types::CertificateDer;
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};

/// Which certificate authorities a `wss://` dial trusts.
#[derive(Clone, Default)]
pub struct TlsRoots {
    /// Trust the bundled Mozilla roots (webpki-roots); on by default.
    pub skip_web_roots: bool,
    /// Extra CA certificates (DER).
    pub extra_cas: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsRoots")
            .field("web_roots", &!self.skip_web_roots)
            .field("extra_cas", &self.extra_cas.len())
            .finish()
    }
}

impl TlsRoots {
    /// Trusts `ca` (DER) in addition to the web roots.
    pub fn with_ca(mut self, ca: CertificateDer<'static>) -> Self {
        self.extra_cas.push(ca);
        self
    }

    /// Trusts only the extra CAs.
    pub fn only_extra(mut self) -> Self {
        self.skip_web_roots = true;
        self
    }

    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, rustls::Error> {
        let mut roots = RootCertStore::empty();
        if !self.skip_web_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for ca in &self.extra_cas {
            roots.add(ca.clone())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}
