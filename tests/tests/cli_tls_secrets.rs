//! `relay serve` over `wss://` (`--tls-cert`, `--tls-key`) and secrets kept
//! off the command line (`--secret-file`, `RELAY_SECRETS`; `relay dial
//! --secret-file`): what a process listing shows never holds a secret.

mod cli_net;
mod common;

use std::path::{Path, PathBuf};

use cli_net::{Serve, dial, dial_all};
use serde_json::json;

const SEND: &str = r#"{"op":"send","chat_id":"c1","content":"hi"}"#;

/// A self-signed certificate for `localhost`: (cert.pem, key.pem) in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The command line of a running process, as `ps` shows it.
fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap()
}

#[test]
fn serve_speaks_wss_with_its_certificate_and_dial_trusts_a_given_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let serve = Serve::start(&["--tls-cert", text(&cert), "--tls-key", text(&key)]);
    assert!(serve.url.starts_with("wss://127.0.0.1:"), "{}", serve.url);
    let url = serve.url.replace("127.0.0.1", "localhost");
    let (lines, stderr, code) = dial_all(&[&url, "--ca", text(&cert)], &[], &[SEND]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{lines:?}");
    let result = lines.iter().find(|l| l.get("result").is_some()).expect("a result");
    assert_eq!(result["result"], json!({"success": true, "message_id": "srv-send"}));
    // Without the CA the certificate is refused.
    let (_, stderr, code) = dial_all(&[&url, "--connect-timeout-ms", "1500"], &[], &[SEND]);
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn unusable_certificate_files_are_usage_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for (cert, key, named) in
        [(&cert, &garbage, &garbage), (&missing, &key, &missing), (&garbage, &key, &garbage)]
    {
        let args = ["serve", "--listen", "127.0.0.1:0", "--tls-cert", text(cert), "--tls-key", text(key)];
        let (stdout, stderr, code) = common::run(&args, "");
        assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(text(named)), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    }
    // A key that is not the certificate's.
    let other = tempfile::tempdir().unwrap();
    let (_, other_key) = certificate(other.path());
    let args = ["serve", "--listen", "127.0.0.1:0", "--tls-cert", text(&cert), "--tls-key", text(&other_key)];
    let (_, stderr, code) = common::run(&args, "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("does not fit the certificate"), "{stderr}");
    let (_, stderr, code) = common::run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", text(&cert)], "");
    assert_eq!(code, 2, "--tls-cert needs --tls-key: {stderr}");
}

#[test]
fn secrets_from_a_file_and_the_environment_never_show_in_the_process_list() {
    let dir = tempfile::tempdir().unwrap();
    let serve_secrets = dir.path().join("serve-secrets.txt");
    std::fs::write(&serve_secrets, "\n  rotated-in  \n\nrotated-out\n").unwrap();
    let mut serve = Serve::start_with_env(
        &["--secret-file", text(&serve_secrets)],
        &[("RELAY_SECRETS", "from-env-1,from-env-2")],
    );
    let listed = command_line(serve.pid());
    for (n, secret) in ["rotated-in", "rotated-out", "from-env-1", "from-env-2"].into_iter().enumerate() {
        assert!(!listed.contains(secret), "{listed}");
        // Every secret of the list is accepted: the file's, in its order, and the environment's.
        let gateway_secret = dir.path().join(format!("gateway-{n}.txt"));
        std::fs::write(&gateway_secret, format!("{secret}\n")).unwrap();
        let gateway_id = format!("gw-{n}");
        let mut gateway =
            dial(&[&serve.url, "--gateway-id", &gateway_id, "--secret-file", text(&gateway_secret)], &[]);
        let dial_listed = command_line(gateway.pid());
        assert!(!dial_listed.contains(secret), "{dial_listed}");
        gateway.send(SEND);
        let finished = gateway.finish();
        assert_eq!((finished.code, finished.stderr.as_str()), (0, ""), "{secret}");
        serve.expect("connected", |v| v["gateway_id"] == gateway_id.as_str());
    }
    // A secret that is in none of them is refused.
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, "not-listed\n").unwrap();
    let (_, stderr, code) = dial_all(
        &[&serve.url, "--gateway-id", "gw", "--secret-file", text(&wrong), "--connect-timeout-ms", "1500"],
        &[],
        &[SEND],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("not-listed"), "{stderr}");
}

#[test]
fn an_unreadable_or_empty_secret_file_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n  \n").unwrap();
    for file in [&missing, &empty] {
        let (_, stderr, code) =
            common::run(&["serve", "--listen", "127.0.0.1:0", "--secret-file", text(file)], "");
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(text(file)), "{stderr}");
        let (_, stderr, code) =
            common::run(&["dial", "ws://127.0.0.1:9", "--gateway-id", "g", "--secret-file", text(file)], "");
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(text(file)), "{stderr}");
    }
}
