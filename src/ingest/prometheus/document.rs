//! JSON document scanning: serde visitors that walk a query result one series
//! entry at a time (never a whole `Value`), handing each entry's labels and
//! points to the reader's state; only the points of kept series are stored.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::State;
use super::points::{RawPoint, Value, parse_value};
use super::series::Verdict;
use crate::ingest::quote;

/// The top-level object: the API envelope or the bare `data` object.
pub(super) struct Document<'s, 'a>(pub(super) &'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Prometheus API response object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "status" => self.0.status = Some(map.next_value()?),
                "errorType" => self.0.error_type = map.next_value()?,
                "error" => self.0.error = map.next_value()?,
                "data" => map.next_value_seed(Data(&mut *self.0))?,
                "resultType" | "result" => data_field(&mut *self.0, &key, &mut map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads the value of `resultType` or `result` from `map`.
pub(super) fn data_field<'de, A: MapAccess<'de>>(
    state: &mut State<'_>,
    key: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    if key == "resultType" {
        let t: String = map.next_value()?;
        check_result_type::<A::Error>(&t)?;
        state.result_type = Some(t);
    } else {
        state.saw_result = true;
        map.next_value_seed(Results(state))?;
    }
    Ok(())
}

pub(super) fn check_result_type<E: de::Error>(t: &str) -> Result<(), E> {
    match t {
        "matrix" | "vector" => Ok(()),
        other => Err(E::custom(format_args!(
            "resultType {} holds no series: poolcap reads \"matrix\" (query_range) or \"vector\" (query) results",
            quote(other.as_bytes())
        ))),
    }
}

/// The `data` object.
pub(super) struct Data<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Data<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Data<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a data object with resultType and result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resultType" | "result" => data_field(&mut *self.0, &key, &mut map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `result` array of series entries.
pub(super) struct Results<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Results<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Results<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of series")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Entry(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One series entry: `{"metric": {…}, "values": [[t, "v"], …]}` (or `"value"`).
pub(super) struct Entry<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Entry<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series object with metric and values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let line = state.newlines.get() + 1;
        let mut labels: Option<BTreeMap<String, String>> = None;
        let mut verdict: Option<Verdict> = None;
        let mut raw: Vec<RawPoint> = Vec::new();
        let mut count = 0u64;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "metric" => {
                    if labels.is_some() {
                        return Err(de::Error::duplicate_field("metric"));
                    }
                    let l = map.next_value()?;
                    verdict = Some(state.verdict(&l));
                    labels = Some(l);
                }
                "values" | "value" => {
                    // Points before the labels are kept until the labels tell.
                    let keep = verdict.as_ref().is_none_or(|v| matches!(v, Verdict::Keep(..)));
                    let points = Points {
                        keep: keep.then_some(&mut raw),
                        count: &mut count,
                    };
                    if key == "values" {
                        map.next_value_seed(points)?;
                    } else {
                        map.next_value_seed(OnePoint(points))?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(labels), Some(verdict)) = (labels, verdict) else {
            return Err(de::Error::missing_field("metric"));
        };
        state.file_entry(line, &labels, verdict, count, raw);
        Ok(())
    }
}

/// Where the points of a series go: kept, or only counted.
pub(super) struct Points<'p> {
    pub(super) keep: Option<&'p mut Vec<RawPoint>>,
    pub(super) count: &'p mut u64,
}

impl<'de> DeserializeSeed<'de> for Points<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Points<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [time, \"value\"] points")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(point) = seq.next_element_seed(PointSeed)? {
            *self.count += 1;
            if let Some(keep) = self.keep.as_deref_mut() {
                keep.push(point);
            }
        }
        Ok(())
    }
}

/// The single point of a `vector` result.
pub(super) struct OnePoint<'p>(Points<'p>);

impl<'de> DeserializeSeed<'de> for OnePoint<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(mut self, d: D) -> Result<(), D::Error> {
        let point = PointSeed.deserialize(d)?;
        *self.0.count += 1;
        if let Some(keep) = self.0.keep.as_deref_mut() {
            keep.push(point);
        }
        Ok(())
    }
}

/// `[1790841600.5, "14"]`.
pub(super) struct PointSeed;

impl<'de> DeserializeSeed<'de> for PointSeed {
    type Value = RawPoint;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawPoint, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PointSeed {
    type Value = RawPoint;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a point [time, \"value\"]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPoint, A::Error> {
        let ts: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = seq
            .next_element_seed(ValueSeed)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(RawPoint { ts, value })
    }
}

/// A point's value: Prometheus writes a string; a bare JSON number is taken too.
pub(super) struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value string such as \"14\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(parse_value(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }
}
