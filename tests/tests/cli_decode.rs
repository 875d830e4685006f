//! `relay decode`: a raw frame stream on stdin → one JSON line per frame or diagnostic (CLI.md).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{relay, relay_std, run};

/// Decodes `stdin` with `args`, expecting exit 0 and nothing on stderr; returns stdout.
fn decode(args: &[&str], stdin: impl Into<Vec<u8>>) -> String {
    let mut full = vec!["decode"];
    full.extend_from_slice(args);
    let (stdout, stderr, code) = run(&full, stdin);
    assert_eq!((code, stderr.as_str()), (0, ""), "stdout: {stdout}");
    stdout
}

#[test]
fn hello_example_from_the_contract() {
    relay()
        .arg("decode")
        .write_stdin("{\"type\":\"hello\",\"platform\":\"discord\",\"botId\":\"b1\"}\n")
        .assert()
        .success()
        .stdout("{\"frame\":{\"type\":\"hello\",\"platform\":\"discord\",\"botId\":\"b1\"}}\n")
        .stderr("");
}

/// Every diagnostic kind, interleaved with valid frames and blank lines.
fn garbage_stream() -> Vec<u8> {
    let long = "x".repeat(300);
    let lines: [&[u8]; 18] = [
        br#"{"type":"going_idle_ack"}"#,
        b"\xff\xfe{}",
        br#"{"type": "interrupt_inbound", "session_key": "k", "chat_id": 7}"#,
        b"not json",
        b"[1]",
        b"",
        br#"{"no":"type"}"#,
        br#"{"type":5}"#,
        br#"{"type":"teleport"}"#,
        br#"{"type":"hello","platform":"discord","botId":"b1"}"#,
        br#"{"type":"outbound_result","requestId":"r1"}"#,
        long.as_bytes(),
        br#"{"type":"outbound_result","requestId":"r1","result":{"success":true,"message_id":"m1"}}"#,
        br#"{"type":"interrupt_inbound","session_key":"k"}"#,
        br#"{"type":"going_idle_ack","x":NaN}"#,
        br#"{"type":"inbound","event":{"text":5}}"#,
        b"   ",
        br#""just a string""#,
    ];
    let mut stream = lines.join(&b"\n"[..]);
    stream.push(b'\n');
    stream
}

#[test]
fn garbage_stream_reports_every_diagnostic_kind_with_its_line() {
    let expected = [
        r#"{"frame":{"type":"going_idle_ack"}}"#,
        r#"{"diagnostic":{"kind":"invalid_utf8","line":2,"detail":"invalid utf-8 sequence of 1 bytes from index 0"}}"#,
        r#"{"frame":{"type":"interrupt_inbound","session_key":"k","chat_id":"7"}}"#,
        r#"{"diagnostic":{"kind":"invalid_json","line":4,"detail":"expected ident at line 1 column 2"}}"#,
        r#"{"diagnostic":{"kind":"not_an_object","line":5,"detail":"a frame must be a JSON object"}}"#,
        r#"{"diagnostic":{"kind":"missing_type","line":7,"detail":"no `type`"}}"#,
        r#"{"diagnostic":{"kind":"missing_type","line":8,"detail":"`type` is not a string"}}"#,
        r#"{"diagnostic":{"kind":"unknown_type","line":9,"detail":"unknown frame type \"teleport\""}}"#,
        r#"{"diagnostic":{"kind":"wrong_direction","line":10,"detail":"`hello` does not travel connector → gateway"}}"#,
        r#"{"diagnostic":{"kind":"bad_field","line":11,"detail":"result: missing"}}"#,
        r#"{"diagnostic":{"kind":"line_too_long","line":12,"detail":"line of 300 bytes exceeds the maximum of 200 bytes"}}"#,
        r#"{"frame":{"type":"outbound_result","requestId":"r1","result":{"success":true,"message_id":"m1"}}}"#,
        r#"{"diagnostic":{"kind":"bad_field","line":14,"detail":"chat_id: missing"}}"#,
        r#"{"diagnostic":{"kind":"invalid_json","line":15,"detail":"expected value at line 1 column 30"}}"#,
        r#"{"diagnostic":{"kind":"bad_field","line":16,"detail":"event.text: expected a string, got a number"}}"#,
        r#"{"diagnostic":{"kind":"not_an_object","line":18,"detail":"a frame must be a JSON object"}}"#,
    ];
    let stdout = decode(&["--direction", "to-gateway", "--max-line", "200"], garbage_stream());
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
    assert!(stdout.ends_with('\n'));
}

#[test]
fn every_diagnostic_kind_appears_in_the_garbage_stream() {
    let stdout = decode(&["--direction", "to-gateway", "--max-line", "200"], garbage_stream());
    let mut kinds: Vec<String> = stdout
        .lines()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("each output line is JSON");
            value.get("diagnostic").map(|d| d["kind"].as_str().expect("kind is a string").to_owned())
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    // The kinds CLI.md lists for `relay decode`, sorted.
    let listed = [
        "bad_field",
        "invalid_json",
        "invalid_utf8",
        "line_too_long",
        "missing_type",
        "not_an_object",
        "unknown_type",
        "wrong_direction",
    ];
    assert_eq!(kinds, listed);
}

#[test]
fn without_direction_both_ways_decode() {
    let stdout = decode(&["--max-line", "200"], garbage_stream());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 16);
    assert_eq!(lines[8], r#"{"frame":{"type":"hello","platform":"discord","botId":"b1"}}"#);
    assert!(!stdout.contains("wrong_direction"));
}

#[test]
fn to_connector_refuses_connector_frames() {
    let stream = "{\"type\":\"going_idle_ack\"}\n{\"type\":\"going_idle\"}\n";
    assert_eq!(
        decode(&["--direction", "to-connector"], stream),
        concat!(
            r#"{"diagnostic":{"kind":"wrong_direction","line":1,"detail":"`going_idle_ack` does not travel gateway → connector"}}"#,
            "\n",
            r#"{"frame":{"type":"going_idle"}}"#,
            "\n"
        )
    );
}

#[test]
fn python_style_json_decodes_with_lone_surrogate_repaired() {
    let line = r#"{"type": "inbound", "event": {"text": "caf\u00e9 \ud83d!", "message_type": "photo", "source": {"platform": "telegram", "chat_id": "1", "chat_type": "group", "user_id": "u1"}, "media_urls": ["https://x/a.png"]}, "bufferId": "b7"}"#;
    let expected = concat!(
        r#"{"frame":{"type":"inbound","event":{"text":"#,
        "\"café \u{FFFD}!\",",
        r#""message_type":"photo","#,
        r#""source":{"platform":"telegram","chat_id":"1","chat_name":null,"chat_type":"group","user_id":"u1","user_name":null,"thread_id":null,"chat_topic":null},"#,
        r#""media_urls":["https://x/a.png"]},"bufferId":"b7"}}"#,
        "\n"
    );
    assert_eq!(decode(&[], format!("{line}\n")), expected);
}

#[test]
fn inbound_event_gets_defaults_and_keeps_unknown_keys() {
    let line = r#"{"type":"inbound","event":{"source":{"platform":" Discord ","chat_id":"c1","chat_type":null,"team":"t"},"message_type":"hologram","x_custom":{"a":[1]}},"zz":true}"#;
    let expected = concat!(
        r#"{"frame":{"type":"inbound","event":{"text":"","message_type":"text","#,
        r#""source":{"platform":"discord","chat_id":"c1","chat_name":null,"chat_type":"dm","user_id":null,"user_name":null,"thread_id":null,"chat_topic":null,"team":"t"},"#,
        r#""media_urls":[],"x_custom":{"a":[1]}},"zz":true}}"#,
        "\n"
    );
    assert_eq!(decode(&[], format!("{line}\n")), expected);
}

#[test]
fn crlf_lines_decode_and_blank_crlf_lines_count() {
    let stream = "{\"type\":\"going_idle_ack\"}\r\n\r\n{\"type\":\"interrupt\",\"session_key\":\"s\",\"reason\":\"stop\"}\r\n[]\r\n";
    assert_eq!(
        decode(&[], stream),
        concat!(
            r#"{"frame":{"type":"going_idle_ack"}}"#,
            "\n",
            r#"{"frame":{"type":"interrupt","session_key":"s","reason":"stop"}}"#,
            "\n",
            r#"{"diagnostic":{"kind":"not_an_object","line":4,"detail":"a frame must be a JSON object"}}"#,
            "\n"
        )
    );
}

#[test]
fn final_line_without_newline_is_decoded() {
    let stream = "{\"type\":\"going_idle_ack\"}\n\n{\"type\":\"hello\",\"platform\":\"p\",\"botId\":\"\"}";
    assert_eq!(
        decode(&[], stream),
        concat!(
            r#"{"frame":{"type":"going_idle_ack"}}"#,
            "\n",
            r#"{"frame":{"type":"hello","platform":"p","botId":""}}"#,
            "\n"
        )
    );
    assert_eq!(
        decode(&[], "\n\n[2]"),
        concat!(
            r#"{"diagnostic":{"kind":"not_an_object","line":3,"detail":"a frame must be a JSON object"}}"#,
            "\n"
        )
    );
    assert_eq!(
        decode(&["--max-line", "4"], "{}\n123456"),
        concat!(
            r#"{"diagnostic":{"kind":"missing_type","line":1,"detail":"no `type`"}}"#,
            "\n",
            r#"{"diagnostic":{"kind":"line_too_long","line":2,"detail":"line of 6 bytes exceeds the maximum of 4 bytes"}}"#,
            "\n"
        )
    );
}

#[test]
fn blank_and_empty_input_print_nothing() {
    assert_eq!(decode(&[], ""), "");
    assert_eq!(decode(&[], "\n \n\t\r\n  "), "");
}

#[test]
fn default_maximum_is_sixteen_mebibytes() {
    let max = 16 * 1024 * 1024;
    let mut stream = vec![b' '; max];
    stream.extend_from_slice(b"{\"type\":\"going_idle\"}\n");
    stream.extend(vec![b'y'; max + 1]);
    stream.extend_from_slice(b"\n{\"type\":\"going_idle_ack\"}\n");
    assert_eq!(
        decode(&[], stream),
        concat!(
            r#"{"diagnostic":{"kind":"line_too_long","line":1,"detail":"line of 16777237 bytes exceeds the maximum of 16777216 bytes"}}"#,
            "\n",
            r#"{"diagnostic":{"kind":"line_too_long","line":2,"detail":"line of 16777217 bytes exceeds the maximum of 16777216 bytes"}}"#,
            "\n",
            r#"{"frame":{"type":"going_idle_ack"}}"#,
            "\n"
        )
    );
    let mut exact = vec![b' '; max - 21];
    exact.extend_from_slice(b"{\"type\":\"going_idle\"}\n");
    assert_eq!(decode(&[], exact), concat!(r#"{"frame":{"type":"going_idle"}}"#, "\n"));
}

/// Runs `relay decode args`, writing `stream` to its stdin in pieces of `sizes` (cycled) with pauses.
fn decode_in_pieces(args: &[&str], stream: &[u8], sizes: &[usize]) -> String {
    let mut child = relay_std()
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relay starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut rest = stream;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        stdin.write_all(piece).expect("relay reads its stdin");
        stdin.flush().expect("flush");
        rest = tail;
        thread::sleep(Duration::from_millis(3));
    }
    drop(stdin);
    let output = child.wait_with_output().expect("relay finishes");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

#[test]
fn odd_chunks_give_the_same_output_as_the_whole() {
    let mut stream = garbage_stream();
    // A multi-byte character and a CRLF to be cut through as well.
    stream
        .extend_from_slice("{\"type\":\"interrupt\",\"session_key\":\"é😀\",\"reason\":null}\r\n".as_bytes());
    let args = ["--direction", "to-gateway", "--max-line", "200"];
    let whole = decode(&args, stream.clone());
    assert_eq!(whole.lines().count(), 17);
    assert_eq!(decode_in_pieces(&args, &stream, &[7, 1, 13, 2, 64]), whole);
    assert_eq!(decode_in_pieces(&args, &stream, &[3]), whole);
}

#[test]
fn output_keeps_up_with_a_live_stream() {
    let mut child = relay_std()
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relay starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let (lines, received) = mpsc::channel();
    let reader = thread::spawn(move || {
        for _ in 0..2 {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("relay writes");
            lines.send(line).expect("test waits");
        }
    });
    // Each line's answer arrives while stdin is still open.
    for (input, expected) in [
        ("{\"type\":\"going_idle\"}\n", "{\"frame\":{\"type\":\"going_idle\"}}\n"),
        (
            "[]\n",
            "{\"diagnostic\":{\"kind\":\"not_an_object\",\"line\":2,\"detail\":\"a frame must be a JSON object\"}}\n",
        ),
    ] {
        stdin.write_all(input.as_bytes()).expect("relay reads");
        stdin.flush().expect("flush");
        let line = received.recv_timeout(Duration::from_secs(10)).expect("output before end of input");
        assert_eq!(line, expected);
    }
    drop(stdin);
    reader.join().expect("reader thread");
    assert!(child.wait().expect("relay finishes").success());
}

#[test]
fn closed_stdout_ends_quietly_without_a_panic() {
    let mut child = relay_std()
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relay starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = thread::spawn(move || {
        let burst = "{\"type\":\"going_idle_ack\"}\n".repeat(4096);
        // Keep writing until relay stops reading (it exits once stdout is gone).
        for _ in 0..2000 {
            if stdin.write_all(burst.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line arrives");
    assert_eq!(first, "{\"frame\":{\"type\":\"going_idle_ack\"}}\n");
    drop(stdout);
    writer.join().expect("writer thread");
    let output = child.wait_with_output().expect("relay finishes");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn bad_flags_are_usage_errors() {
    let (stdout, stderr, code) = run(&["decode", "--direction", "sideways"], "");
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("invalid value 'sideways' for '--direction"), "{stderr}");
    let (_, stderr, code) = run(&["decode", "--max-line", "0"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("the maximum line length must be at least 1 byte"), "{stderr}");
}
