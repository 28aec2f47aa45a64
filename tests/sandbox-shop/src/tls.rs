//! The sandbox's certificates: a throw-away CA made at each start, and a server certificate
//! it signs for `localhost` and `127.0.0.1`.
//!
//! A fresh CA per start means a client can only talk to this shop by trusting exactly this
//! CA, the way the box trusts one shop; nothing here ever asks a client to skip verification.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::error::ShopError;

/// The names the server certificate is valid for.
const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// What the server needs to speak TLS, and what a client needs to trust it.
pub(crate) struct SandboxTls {
    /// PEM of the CA certificate that signed the server certificate.
    pub ca_pem: String,
    /// The rustls configuration serving the signed certificate (ring provider, h2 + http/1.1).
    pub server_config: Arc<ServerConfig>,
}

/// Makes a new CA and server certificate and the rustls configuration around them.
pub(crate) fn generate() -> Result<SandboxTls, ShopError> {
    let ca_key = KeyPair::generate()?;
    let ca_params = ca_params();
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let server_cert = server_params()?.signed_by(&server_key, &issuer)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    Ok(SandboxTls {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(config),
    })
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Relais sandbox shop CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn server_params() -> Result<CertificateParams, ShopError> {
    let names: Vec<String> = SERVER_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, SERVER_NAMES[0]);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_start_gets_its_own_ca() {
        let first = generate().expect("first");
        let second = generate().expect("second");

        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(first.ca_pem, second.ca_pem);
    }
}
