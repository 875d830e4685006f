//! Platform names (PROTOCOL §4): trimmed, lower-cased, and mapped onto the known set.

use std::fmt;

macro_rules! platforms {
    ($($variant:ident => $name:literal,)*) => {
        /// A chat platform, as named on the wire.
        ///
        /// Reading is lenient: names are trimmed and lower-cased, and anything
        /// unknown reads as [`Platform::Relay`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Platform {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Platform {
            /// Every known platform, in the order PROTOCOL §4 lists them.
            pub const ALL: &'static [Platform] = &[$(Platform::$variant,)*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Platform::$variant => $name,)*
                }
            }
        }
    };
}

platforms! {
    Local => "local",
    Telegram => "telegram",
    Discord => "discord",
    Whatsapp => "whatsapp",
    WhatsappCloud => "whatsapp_cloud",
    Slack => "slack",
    Signal => "signal",
    Mattermost => "mattermost",
    Matrix => "matrix",
    Homeassistant => "homeassistant",
    Email => "email",
    Sms => "sms",
    Dingtalk => "dingtalk",
    ApiServer => "api_server",
    Webhook => "webhook",
    MsgraphWebhook => "msgraph_webhook",
    Feishu => "feishu",
    Wecom => "wecom",
    WecomCallback => "wecom_callback",
    Weixin => "weixin",
    Bluebubbles => "bluebubbles",
    Qqbot => "qqbot",
    Yuanbao => "yuanbao",
    Relay => "relay",
    Ntfy => "ntfy",
    GoogleChat => "google_chat",
    Photon => "photon",
    Line => "line",
    Irc => "irc",
    Teams => "teams",
    Raft => "raft",
    Simplex => "simplex",
}

impl Platform {
    /// Reads a platform name the way the protocol does: trimmed, lower-cased,
    /// unknown names become [`Platform::Relay`].
    ///
    /// ```
    /// use relay_core::wire::Platform;
    /// assert_eq!(Platform::from_name(" Discord "), Platform::Discord);
    /// assert_eq!(Platform::from_name("myspace"), Platform::Relay);
    /// ```
    pub fn from_name(name: &str) -> Self {
        let find = |name: &str| Self::ALL.iter().copied().find(|p| p.as_str() == name);
        // Names nearly always arrive in their wire spelling: no copy for those.
        find(name).or_else(|| find(&name.trim().to_lowercase())).unwrap_or(Self::Relay)
    }
}

impl Default for Platform {
    /// `relay`, what an absent or unknown name reads as.
    fn default() -> Self {
        Self::Relay
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_itself() {
        assert_eq!(Platform::ALL.len(), 32);
        for p in Platform::ALL {
            assert_eq!(Platform::from_name(p.as_str()), *p);
            assert_eq!(Platform::from_name(&format!("  {}\t", p.as_str().to_uppercase())), *p);
        }
    }

    #[test]
    fn unknown_and_empty_names_read_as_relay() {
        for name in ["", "   ", "discord2", "x", "tele gram"] {
            assert_eq!(Platform::from_name(name), Platform::Relay, "{name:?}");
        }
    }
}
