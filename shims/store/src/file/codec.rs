//! How keys and frames are written into the file.

use relay_core::connector::{BacklogKey, BufferedFrame, StoredFrame};

/// The bytes a backlog key is stored under. A tag byte tells the two kinds
/// apart, and the platform's length comes before it, so no pair of keys
/// encodes alike whatever characters the ids contain.
pub(super) fn encode_key(key: &BacklogKey) -> Vec<u8> {
    match key {
        BacklogKey::Gateway(id) => {
            let mut out = Vec::with_capacity(1 + id.len());
            out.push(b'g');
            out.extend_from_slice(id.as_bytes());
            out
        }
        BacklogKey::Identity(identity) => {
            let (platform, bot_id) = (identity.platform.as_bytes(), identity.bot_id.as_bytes());
            let mut out = Vec::with_capacity(9 + platform.len() + bot_id.len());
            out.push(b'i');
            out.extend_from_slice(&(platform.len() as u64).to_be_bytes());
            out.extend_from_slice(platform);
            out.extend_from_slice(bot_id);
            out
        }
    }
}

/// Writes `frame` into `out` as its wire line without the `\n`, so what is
/// stored is exactly what a gateway would be sent.
pub(super) fn encode_frame(frame: BufferedFrame, out: &mut Vec<u8>) {
    out.clear();
    frame.encode_into(out);
}

/// The buffered frame a stored line holds, or why it holds none. The line
/// is checked, not decoded: a replay sends it as it is, with its `bufferId`.
pub(super) fn decode_frame(line: &[u8]) -> Result<BufferedFrame, String> {
    StoredFrame::from_line(line).map(BufferedFrame::Stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_core::gateway::Identity;

    #[test]
    fn keys_never_encode_alike() {
        let keys = [
            BacklogKey::Gateway("ab".into()),
            BacklogKey::Gateway("i".into()),
            BacklogKey::Identity(Identity::new("a", "b")),
            BacklogKey::Identity(Identity::new("ab", "")),
            BacklogKey::Identity(Identity::new("", "ab")),
            BacklogKey::Identity(Identity::new("a\0", "b")),
        ];
        let encoded: Vec<Vec<u8>> = keys.iter().map(encode_key).collect();
        for (i, a) in encoded.iter().enumerate() {
            for b in &encoded[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_line_of_another_frame_type_is_refused() {
        let err = decode_frame(br#"{"type":"inbound_ack","bufferId":"1"}"#).unwrap_err();
        assert_eq!(err, "the line is not an inbound or passthrough_forward frame");
        assert!(decode_frame(b"{not json").is_err());
    }
}
