//! The connector settings that change how types are represented.
//!
//! Each enum mirrors one Debezium property and parses that property's values the way
//! Debezium does (trimmed, case-insensitive), so a Debezium connector config is accepted
//! as it is. An unknown value is an error that lists the allowed ones.

use std::fmt;
use std::str::FromStr;

/// A mode property had a value that is not one of its allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value \"{value}\" for {property}; allowed values are: {allowed}")]
pub struct ModeParseError {
    pub property: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! mode_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $property:literal, default $default:ident,
        { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The Debezium property this mode is read from.
            pub const PROPERTY: &'static str = $property;
            /// Every value the property accepts, comma separated.
            pub const ALLOWED: &'static str = concat!($($text, ", "),+);

            /// The property value naming this mode.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ModeParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim();
                $(if wanted.eq_ignore_ascii_case($text) {
                    return Ok($name::$variant);
                })+
                Err(ModeParseError {
                    property: $property,
                    value: s.to_string(),
                    allowed: Self::ALLOWED.trim_end_matches(", "),
                })
            }
        }
    };
}

mode_enum! {
    /// `decimal.handling.mode`: how `numeric`, `decimal` and `money` values are written.
    DecimalHandling, "decimal.handling.mode", default Precise, {
        /// `org.apache.kafka.connect.data.Decimal` bytes (or `VariableScaleDecimal`).
        Precise => "precise",
        /// A `FLOAT64`, losing precision.
        Double => "double",
        /// The decimal as a `STRING`.
        String => "string",
    }
}

mode_enum! {
    /// `time.precision.mode`: units and semantic types of `date`, `time` and `timestamp`.
    TimePrecision, "time.precision.mode", default Adaptive, {
        /// Units follow the column's precision (ms up to 3 digits, µs above).
        Adaptive => "adaptive",
        /// Like `adaptive`, but `time` is always `io.debezium.time.MicroTime`.
        AdaptiveTimeMicroseconds => "adaptive_time_microseconds",
        /// Kafka Connect's own logical types, always in milliseconds.
        Connect => "connect",
        /// `time` and `timestamp` always in microseconds (`MicroTime`, `MicroTimestamp`).
        Microseconds => "microseconds",
        /// `time` and `timestamp` always in nanoseconds (`NanoTime`, `NanoTimestamp`); a
        /// timestamp outside 1677–2262 cannot be written and becomes NULL, as in Debezium.
        Nanoseconds => "nanoseconds",
        /// ISO-8601 text in UTC: `IsoDate` `2024-01-02Z`, `IsoTime` `10:15:30.5Z`,
        /// `IsoTimestamp` `2024-01-02T10:15:30.5Z`.
        Isostring => "isostring",
    }
}

mode_enum! {
    /// `interval.handling.mode`: an `interval` as approximate microseconds or as ISO text.
    IntervalHandling, "interval.handling.mode", default Numeric, {
        /// `io.debezium.time.MicroDuration`.
        Numeric => "numeric",
        /// `io.debezium.time.Interval`.
        String => "string",
    }
}

mode_enum! {
    /// `binary.handling.mode`: how `bytea` values are written.
    BinaryHandling, "binary.handling.mode", default Bytes, {
        /// Raw `BYTES`.
        Bytes => "bytes",
        /// A base64 `STRING` (standard alphabet, padded).
        Base64 => "base64",
        /// A base64 `STRING` with the URL-safe alphabet (padded), as Debezium's
        /// `base64-url-safe`.
        Base64UrlSafe => "base64-url-safe",
        /// A lower-case hexadecimal `STRING`.
        Hex => "hex",
    }
}

mode_enum! {
    /// `hstore.handling.mode`: an `hstore` as JSON text or as a map.
    HstoreHandling, "hstore.handling.mode", default Json, {
        /// `io.debezium.data.Json` text, `{"a":"1","b":null}`.
        Json => "json",
        /// A Connect map of optional strings.
        Map => "map",
    }
}

mode_enum! {
    /// `event.converting.failure.handling.mode`: what becomes of a column value that does
    /// not convert to its schema's type, as Debezium's `TableSchemaBuilder` decides it.
    ConvertingFailure, "event.converting.failure.handling.mode", default Warn, {
        /// The event cannot be made: it fails, as `event.processing.failure.handling.mode`
        /// handles it.
        Fail => "fail",
        /// The field is NULL, with a warning naming the table, column and value.
        Warn => "warn",
        /// The field is NULL, logged at debug level only.
        Skip => "skip",
    }
}

mode_enum! {
    /// `event.processing.failure.handling.mode`: what becomes of a change event that
    /// cannot be made (a key value that does not convert, a NULL in a required field), as
    /// Debezium's `EventDispatcher` decides it. The offset moves on either way.
    ProcessingFailure, "event.processing.failure.handling.mode", default Fail, {
        /// The connector stops with the error (FAILED), naming the event's position.
        Fail => "fail",
        /// The event is left out, with a warning naming its position and the error.
        Warn => "warn",
        /// The event is left out, logged at debug level only.
        Skip => "skip",
        /// As `skip`.
        Ignore => "ignore",
    }
}

/// All representation settings that affect column schemas and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeModes {
    pub decimal: DecimalHandling,
    pub time: TimePrecision,
    pub interval: IntervalHandling,
    pub binary: BinaryHandling,
    pub hstore: HstoreHandling,
    /// `include.unknown.datatypes`: columns of unmapped types are written as their text's
    /// bytes (in `binary` mode) instead of being left out.
    pub include_unknown: bool,
    /// `money.fraction.digits`: the scale of `money` values (Debezium's default is 2).
    pub money_fraction_digits: u32,
}

impl Default for TypeModes {
    fn default() -> Self {
        TypeModes {
            decimal: DecimalHandling::Precise,
            time: TimePrecision::Adaptive,
            interval: IntervalHandling::Numeric,
            binary: BinaryHandling::Bytes,
            hstore: HstoreHandling::Json,
            include_unknown: false,
            money_fraction_digits: 2,
        }
    }
}
