//! What a gateway author needs beyond the transport.
