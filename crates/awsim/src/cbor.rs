//! Smithy RPC v2 CBOR <-> moto's JSON protocol, for services whose SDK speaks only CBOR
//! (CloudWatch: `POST /service/GraniteServiceVersion20100801/operation/<Op>`, header
//! `smithy-protocol: rpc-v2-cbor`). moto 5.2.1 parses CloudWatch's awsJson1.0 but not CBOR, so
//! awsim decodes the request into JSON, forwards it with `X-Amz-Target: <Service>.<Op>`, and
//! encodes moto's JSON answer back into CBOR — the wire shape AWS answers with.
//!
//! JSON loses two distinctions CBOR and the SDK's decoder make: timestamps (CBOR tag 1 around
//! epoch seconds; JSON a bare number) and doubles (CBOR floats; JSON `80` may be an integer).
//! Both are restored by member name ([`TIMESTAMP_SUFFIX`], [`DOUBLE_MEMBERS`]), which is exact
//! for CloudWatch's shapes.

use serde_json::{Map, Number, Value};

/// CloudWatch members whose name ends with this are timestamps (`StateUpdatedTimestamp`,
/// `Timestamps`, ...).
pub const TIMESTAMP_SUFFIX: [&str; 2] = ["Timestamp", "Timestamps"];

/// CloudWatch members of type double (a JSON integer is re-encoded as a CBOR float).
pub const DOUBLE_MEMBERS: [&str; 9] = [
    "Threshold",
    "Value",
    "Values",
    "Counts",
    "Sum",
    "SampleCount",
    "Average",
    "Minimum",
    "Maximum",
];

/// Why a CBOR body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| DecodeError(format!("truncated at {}", self.at)))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| DecodeError(format!("truncated at {}", self.at)))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn uint(&mut self, info: u8) -> Result<u64, DecodeError> {
        Ok(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.fixed()?)),
            26 => u64::from(u32::from_be_bytes(self.fixed()?)),
            27 => u64::from_be_bytes(self.fixed()?),
            _ => return Err(DecodeError(format!("bad length encoding {info}"))),
        })
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn peek_break(&mut self) -> Result<bool, DecodeError> {
        if self.bytes.get(self.at) == Some(&0xff) {
            self.at += 1;
            return Ok(true);
        }
        Ok(false)
    }

    fn string(&mut self, info: u8) -> Result<String, DecodeError> {
        if info == 31 {
            let mut out = String::new();
            while !self.peek_break()? {
                let head = self.byte()?;
                out.push_str(&self.string(head & 0x1f)?);
            }
            return Ok(out);
        }
        let n = usize::try_from(self.uint(info)?).map_err(|e| DecodeError(e.to_string()))?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        Ok(match major {
            0 => Value::from(self.uint(info)?),
            1 => {
                let n = self.uint(info)?;
                let v = i64::try_from(n).map_err(|e| DecodeError(e.to_string()))?;
                Value::from(-1 - v)
            }
            2 | 3 => Value::String(self.string(info)?),
            4 => {
                let mut items = Vec::new();
                if info == 31 {
                    while !self.peek_break()? {
                        items.push(self.value()?);
                    }
                } else {
                    for _ in 0..self.uint(info)? {
                        items.push(self.value()?);
                    }
                }
                Value::Array(items)
            }
            5 => {
                let mut map = Map::new();
                let mut entry = |r: &mut Self| -> Result<(), DecodeError> {
                    let key = match r.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let value = r.value()?;
                    map.insert(key, value);
                    Ok(())
                };
                if info == 31 {
                    while !self.peek_break()? {
                        entry(self)?;
                    }
                } else {
                    for _ in 0..self.uint(info)? {
                        entry(self)?;
                    }
                }
                Value::Object(map)
            }
            // Tags (1: epoch-seconds timestamp): JSON carries the number itself.
            6 => {
                self.uint(info)?;
                self.value()?
            }
            _ => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 | 23 => Value::Null,
                25 => float(half(u16::from_be_bytes(self.fixed()?))),
                26 => float(f64::from(f32::from_be_bytes(self.fixed()?))),
                27 => float(f64::from_be_bytes(self.fixed()?)),
                _ => return Err(DecodeError(format!("unsupported simple value {info}"))),
            },
        })
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// IEEE 754 half precision to f64.
fn half(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Decodes one CBOR data item (an empty body is `{}`, as Smithy allows for an empty input).
///
/// # Errors
/// Truncated or unsupported input.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    if bytes.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    Reader { bytes, at: 0 }.value()
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if let Ok(b) = u8::try_from(n) {
        out.extend([m | 24, b]);
    } else if let Ok(s) = u16::try_from(n) {
        out.push(m | 25);
        out.extend(s.to_be_bytes());
    } else if let Ok(w) = u32::try_from(n) {
        out.push(m | 26);
        out.extend(w.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend(n.to_be_bytes());
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hint {
    None,
    Timestamp,
    Double,
}

fn hint_of(key: &str) -> Hint {
    if TIMESTAMP_SUFFIX.iter().any(|s| key.ends_with(s)) {
        Hint::Timestamp
    } else if DOUBLE_MEMBERS.contains(&key) {
        Hint::Double
    } else {
        Hint::None
    }
}

fn put_f64(out: &mut Vec<u8>, f: f64) {
    out.push(0xfb);
    out.extend(f.to_be_bytes());
}

fn encode_into(out: &mut Vec<u8>, v: &Value, hint: Hint) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Number(n) => {
            if hint == Hint::Timestamp {
                out.push(0xc1);
            }
            match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) if hint == Hint::None => head(out, 0, u),
                (None, Some(i), _) if hint == Hint::None => head(out, 1, (-1 - i) as u64),
                (_, _, Some(f)) => put_f64(out, f),
                _ => out.push(0xf6),
            }
        }
        Value::String(s) => {
            head(out, 3, s.len() as u64);
            out.extend(s.as_bytes());
        }
        Value::Array(items) => {
            head(out, 4, items.len() as u64);
            for item in items {
                encode_into(out, item, hint);
            }
        }
        Value::Object(map) => {
            head(out, 5, map.len() as u64);
            for (k, item) in map {
                head(out, 3, k.len() as u64);
                out.extend(k.as_bytes());
                encode_into(out, item, hint_of(k));
            }
        }
    }
}

/// Encodes a JSON answer as CBOR, members named like timestamps tagged as epoch seconds and
/// double members as floats.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, v, Hint::None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_restores_types() {
        let v = json!({
            "AlarmName": "demo-db-cpu",
            "Threshold": 80,
            "Period": 300,
            "Negative": -5,
            "Enabled": true,
            "None": null,
            "StateUpdatedTimestamp": 1733390000.5,
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "demo-metadata"}],
            "Long": "x".repeat(300),
        });
        let bytes = encode(&v);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back["AlarmName"], "demo-db-cpu");
        assert_eq!(back["Threshold"], json!(80.0), "a double stays a float");
        assert_eq!(back["Period"], json!(300));
        assert_eq!(back["Negative"], json!(-5));
        assert_eq!(back["StateUpdatedTimestamp"], json!(1733390000.5));
        assert_eq!(back["Dimensions"][0]["Value"], "demo-metadata");
        assert_eq!(back["Long"].as_str().map(str::len), Some(300));
        // The timestamp is tagged (0xc1) then a float (0xfb).
        let key = b"StateUpdatedTimestamp";
        let at = bytes
            .windows(key.len())
            .position(|w| w == key)
            .expect("key present")
            + key.len();
        assert_eq!(&bytes[at..at + 2], &[0xc1, 0xfb]);
    }

    #[test]
    fn decodes_indefinite_maps_and_half_floats() {
        // {_ "a": 1.5 (f16), "b": [_ "x"] }
        let bytes = [
            0xbf, 0x61, b'a', 0xf9, 0x3e, 0x00, 0x61, b'b', 0x9f, 0x61, b'x', 0xff, 0xff,
        ];
        let v = decode(&bytes).expect("decodes");
        assert_eq!(v, json!({"a": 1.5, "b": ["x"]}));
        assert_eq!(decode(&[]).expect("empty"), json!({}));
        assert!(decode(&[0xbf, 0x61]).is_err());
    }
}
