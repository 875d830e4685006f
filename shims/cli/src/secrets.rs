//! Secrets and certificates from files and the environment, so they need
//! not appear on a command line that every process listing shows.

use std::path::Path;
use std::sync::Arc;

use relay_driver::rustls::pki_types::pem::PemObject as _;
use relay_driver::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use relay_driver::rustls::{self, ServerConfig};

use crate::stdio::Failure;

/// The secrets in a file: one per line, in order (the rotation order),
/// surrounding whitespace trimmed, blank lines skipped.
pub(crate) fn read_secret_file(path: &Path) -> Result<Vec<String>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Usage(format!(
            "could not read the secret file {}: {e}; pass a readable file",
            path.display()
        ))
    })?;
    let secrets: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if secrets.is_empty() {
        return Err(Failure::Usage(format!(
            "the secret file {} holds no secret; write one secret per line",
            path.display()
        )));
    }
    Ok(secrets)
}

/// The secrets in an environment variable's value: separated by newlines
/// or commas, in order, blank ones skipped. A secret holding a comma comes
/// from a file instead.
pub(crate) fn split_secret_list(value: &str) -> Vec<String> {
    value.split(['\n', ',']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A CA certificate to trust (the first certificate of a PEM file).
pub(crate) fn read_ca(path: &Path) -> Result<CertificateDer<'static>, Failure> {
    CertificateDer::from_pem_file(path).map_err(|e| pem_problem(path, "a CA certificate", &e))
}

/// A `wss://` server configuration from a PEM certificate chain and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn server_tls(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Failure> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_problem(cert, "a certificate chain", &e))?;
    if chain.is_empty() {
        return Err(Failure::Usage(format!(
            "{} holds no PEM certificate; pass --tls-cert a certificate chain",
            cert.display()
        )));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_problem(key, "a private key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key_der))
        .map_err(|e| {
            Failure::Usage(format!(
                "the key {} does not fit the certificate {}: {e}; pass the key of that certificate",
                key.display(),
                cert.display()
            ))
        })?;
    Ok(Arc::new(config))
}

fn pem_problem(path: &Path, what: &str, error: &rustls::pki_types::pem::Error) -> Failure {
    let reason = match error {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM block of that kind".to_owned(),
        other => format!("{other:?}"),
    };
    Failure::Usage(format!("could not read {what} from {}: {reason}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lists_split_on_newlines_and_commas() {
        assert_eq!(split_secret_list("new,old"), ["new", "old"]);
        assert_eq!(split_secret_list(" new \n\n old \n"), ["new", "old"]);
        assert!(split_secret_list(" , \n").is_empty());
    }
}
