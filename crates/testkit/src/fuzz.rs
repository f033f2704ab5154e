//! Random and hostile request messages built from the SDK's descriptor set, for property
//! tests of the services' request decoders and the gateway's bad-input run.
//!
//! Values lean towards what breaks parsers: empty, huge and odd Unicode strings, valid
//! and almost-valid UUIDs, integer extremes, enum numbers no contract defines, timestamps
//! out of range, update masks naming real and made-up fields. A field named like an id,
//! a currency or a country often gets a well-formed value, so a message gets past its
//! first check and the later ones are exercised too.

use std::sync::LazyLock;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(mandi_sdk::proto::FILE_DESCRIPTOR_SET)
        .expect("the SDK's descriptor set decodes")
});

/// Every message, service and method of the mandi contracts.
pub fn pool() -> &'static DescriptorPool {
    &POOL
}

/// How far the generator goes.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Longest "huge" string, in characters.
    pub huge: usize,
    /// Most elements of a "long" repeated field.
    pub many: usize,
    /// Deepest nesting of messages.
    pub depth: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            huge: 4_096,
            many: 64,
            depth: 4,
        }
    }
}

/// A random `T` (the message `full_name` of the contracts, e.g.
/// `mandi.order.v1.CreateOrderRequest`) from `seed`: the same seed gives the same message.
pub fn request<T: prost::Message + Default>(full_name: &str, seed: u64) -> T {
    request_shaped(full_name, seed, Shape::default())
}

/// [`request`] with limits of its own.
pub fn request_shaped<T: prost::Message + Default>(full_name: &str, seed: u64, shape: Shape) -> T {
    let descriptor = pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("no message {full_name} in the SDK's descriptor set"));
    let bytes = Generator::new(seed, shape)
        .message(&descriptor, 0)
        .encode_to_vec();
    T::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("a generated {full_name} decodes as its Rust type: {e}"))
}

/// Makes random messages from one seed.
pub struct Generator {
    rng: StdRng,
    shape: Shape,
}

impl Generator {
    /// A generator whose messages follow from `seed`.
    pub fn new(seed: u64, shape: Shape) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            shape,
        }
    }

    /// The random number source, for callers that mutate what they got.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// A random message of type `descriptor`, `depth` levels below the request.
    pub fn message(&mut self, descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(descriptor.clone());
        match descriptor.full_name() {
            "google.protobuf.Timestamp" | "google.protobuf.Duration" => {
                self.time(&mut message);
                return message;
            }
            "google.protobuf.FieldMask" => return message,
            _ => {}
        }
        let fields: Vec<FieldDescriptor> = descriptor.fields().collect();
        for field in &fields {
            // Most fields set: enough for a message to look real, some left out to
            // exercise "required" checks.
            if !self.rng.gen_bool(0.7) {
                continue;
            }
            if let Some(value) = self.field(field, &fields, depth) {
                message.set_field(field, value);
            }
        }
        message
    }

    fn field(
        &mut self,
        field: &FieldDescriptor,
        siblings: &[FieldDescriptor],
        depth: usize,
    ) -> Option<Value> {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return None;
            };
            let key_field = entry.map_entry_key_field();
            let value_field = entry.map_entry_value_field();
            let mut map = std::collections::HashMap::new();
            for _ in 0..self.rng.gen_range(0..4) {
                let key = match self.single(&key_field, siblings, depth)? {
                    Value::String(s) => MapKey::String(s),
                    Value::I32(v) => MapKey::I32(v),
                    Value::I64(v) => MapKey::I64(v),
                    Value::U32(v) => MapKey::U32(v),
                    Value::U64(v) => MapKey::U64(v),
                    Value::Bool(v) => MapKey::Bool(v),
                    _ => continue,
                };
                if let Some(value) = self.single(&value_field, siblings, depth) {
                    map.insert(key, value);
                }
            }
            return Some(Value::Map(map));
        }
        if let Kind::Message(m) = field.kind()
            && m.full_name() == "google.protobuf.FieldMask"
        {
            let mask = self.mask(m, siblings);
            return Some(if field.is_list() {
                Value::List(vec![Value::Message(mask)])
            } else {
                Value::Message(mask)
            });
        }
        if field.is_list() {
            let count = match self.rng.gen_range(0..10) {
                0 => self.rng.gen_range(0..=self.shape.many),
                1..=3 => 0,
                _ => self.rng.gen_range(1..4),
            };
            let items = (0..count)
                .filter_map(|_| self.single(field, siblings, depth))
                .collect();
            return Some(Value::List(items));
        }
        self.single(field, siblings, depth)
    }

    fn single(
        &mut self,
        field: &FieldDescriptor,
        _siblings: &[FieldDescriptor],
        depth: usize,
    ) -> Option<Value> {
        let name = field.name();
        Some(match field.kind() {
            Kind::String => Value::String(self.string(name)),
            Kind::Bytes => {
                let len = self.rng.gen_range(0..64);
                Value::Bytes((0..len).map(|_| self.rng.r#gen::<u8>()).collect())
            }
            Kind::Bool => Value::Bool(self.rng.r#gen()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(self.i32(name)),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(self.i64(name)),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(self.pick(&[0, 1, u32::MAX, 7, 100_000])),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(self.pick(&[0, 1, u64::MAX, 7, 1 << 40])),
            Kind::Float => Value::F32(self.pick(&[0.0, -1.0, f32::NAN, f32::INFINITY, 1e30, 0.5])),
            Kind::Double => Value::F64(self.pick(&[
                0.0,
                -0.0,
                -1.0,
                f64::NAN,
                f64::NEG_INFINITY,
                1e300,
                12.97,
                77.59,
                -91.0,
                181.0,
            ])),
            Kind::Enum(e) => {
                let known: Vec<i32> = e.values().map(|v| v.number()).collect();
                let number = match self.rng.gen_range(0..6) {
                    0 => self.pick(&[-1, 999, i32::MAX, i32::MIN]),
                    1 => 0,
                    _ => known[self.rng.gen_range(0..known.len())],
                };
                Value::EnumNumber(number)
            }
            Kind::Message(m) => {
                if depth >= self.shape.depth {
                    return None;
                }
                Value::Message(self.message(&m, depth + 1))
            }
        })
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.rng.gen_range(0..choices.len())]
    }

    fn i32(&mut self, name: &str) -> i32 {
        match self.rng.gen_range(0..8) {
            0 => self.pick(&[i32::MIN, i32::MAX, -1, 0]),
            1 => self.rng.r#gen(),
            2 => -self.rng.gen_range(1..1000),
            // Months, years, page sizes and quantities in their plausible ranges.
            _ if name.contains("month") => self.rng.gen_range(0..14),
            _ if name.contains("year") => self.rng.gen_range(2000..2100),
            _ => self.rng.gen_range(0..200),
        }
    }

    fn i64(&mut self, name: &str) -> i64 {
        match self.rng.gen_range(0..8) {
            0 => self.pick(&[i64::MIN, i64::MAX, -1, 0, i64::MAX / 2]),
            1 => self.rng.r#gen(),
            2 => -self.rng.gen_range(1..100_000),
            _ if name.contains("amount") || name.contains("minor") => {
                self.rng.gen_range(0..10_000_000)
            }
            _ => self.rng.gen_range(0..1000),
        }
    }

    fn time(&mut self, message: &mut DynamicMessage) {
        let now = 1_790_000_000i64;
        let seconds = match self.rng.gen_range(0..6) {
            // Past the Timestamp range, and near chrono's limits where adding a day
            // overflows.
            0 => self.pick(&[
                i64::MIN,
                i64::MAX,
                -62_135_596_801,
                253_402_300_800,
                8_210_266_876_799,
                -8_334_601_228_800,
                0,
                -1,
            ]),
            1 => self.rng.r#gen(),
            _ => now + self.rng.gen_range(-86_400 * 30..86_400 * 30),
        };
        let nanos = match self.rng.gen_range(0..5) {
            0 => self.pick(&[-1, 1_000_000_000, i32::MAX, i32::MIN]),
            _ => self.rng.gen_range(0..1_000_000_000),
        };
        message.set_field_by_name("seconds", Value::I64(seconds));
        message.set_field_by_name("nanos", Value::I32(nanos));
    }

    fn mask(&mut self, mask: MessageDescriptor, siblings: &[FieldDescriptor]) -> DynamicMessage {
        let mut message = DynamicMessage::new(mask);
        // The fields of the resource being updated: the sibling message field's own.
        let mut names: Vec<String> = siblings
            .iter()
            .filter_map(|f| match f.kind() {
                Kind::Message(m) if !m.full_name().starts_with("google.") => {
                    Some(m.fields().map(|f| f.name().to_owned()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        names.extend(
            [
                "",
                "*",
                "id",
                "name.first",
                "does_not_exist",
                "x".repeat(300).as_str(),
            ]
            .map(str::to_owned),
        );
        let count = self.rng.gen_range(0..5);
        let paths = (0..count)
            .map(|_| Value::String(names[self.rng.gen_range(0..names.len())].clone()))
            .collect();
        message.set_field_by_name("paths", Value::List(paths));
        message
    }

    /// A hostile string, or for fields named like ids, codes or contacts, often a
    /// well-formed one.
    pub fn string(&mut self, name: &str) -> String {
        if self.rng.gen_bool(0.5)
            && let Some(plausible) = self.plausible(name)
        {
            return plausible;
        }
        match self.rng.gen_range(0..16) {
            0 => String::new(),
            1 => "x".repeat(self.rng.gen_range(1..=self.shape.huge)),
            2 => "not-a-uuid".into(),
            3 => "00000000-0000-0000-0000-00000000000g".into(),
            4 => "00000000-0000-0000-0000-000000000000".into(),
            5 => uuid::Uuid::now_v7().to_string().to_uppercase(),
            6 => " \t\n ".into(),
            7 => "\u{0}\u{1b}[31m\u{202e}".into(),
            8 => "🍋‍🟩 ā́ 北京 ﷽".repeat(self.rng.gen_range(1..50)),
            9 => "'; DROP TABLE orders; --".into(),
            10 => "-1".into(),
            11 => "99999999999999999999999".into(),
            12 => "orders/../../etc/passwd".into(),
            13 => "a".repeat(self.rng.gen_range(250..300)),
            14 => "%00%ff\\u0000".into(),
            _ => {
                let len = self.rng.gen_range(0..40);
                (0..len)
                    .map(|_| char::from(self.rng.gen_range(0x20u8..0x7f)))
                    .collect()
            }
        }
    }

    fn plausible(&mut self, name: &str) -> Option<String> {
        let value = if name.ends_with("_id") || name == "id" || name.ends_with("_ids") {
            uuid::Uuid::now_v7().to_string()
        } else if name.contains("currency") {
            self.pick(&["INR", "USD", "inr", "XYZ", "IN"]).to_owned()
        } else if name.contains("country") {
            self.pick(&["IN", "US", "in", "ZZ"]).to_owned()
        } else if name.contains("email") {
            format!("fuzz{}@example.com", self.rng.gen_range(0..1_000_000))
        } else if name.contains("phone") {
            self.pick(&["+919812345678", "+1", "12345", "+91 98123 45678"])
                .to_owned()
        } else if name.contains("postal") {
            self.pick(&["560001", "0", "ABCDEF"]).to_owned()
        } else if name == "name" || name.ends_with("_name") || name.contains("line") {
            self.pick(&["Asha Rao", "Bengaluru", "12 MG Road", "a"])
                .to_owned()
        } else if name.contains("token") {
            self.pick(&["", "eyJhbGciOiJub25lIn0.e30.", "bm9wZQ", "4242424242424242"])
                .to_owned()
        } else if name.contains("slug") || name.contains("code") {
            self.pick(&["alphonso-mango", "W-ABC123", "FRUITS", "a b"])
                .to_owned()
        } else {
            return None;
        };
        Some(value)
    }
}

/// Checks that `path` (as violations name fields: `items[0].quantity`,
/// `product.category_id`) walks through fields of the message `full_name`, ending at a
/// field or a oneof, so an error names something the caller can find in the contract.
pub fn check_field_path(full_name: &str, path: &str) -> Result<(), String> {
    let mut message = pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| format!("no message {full_name}"))?;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let name = segment.split_once('[').map_or(*segment, |(name, _)| name);
        // A oneof names the choice as a whole ("destination is required").
        if i + 1 == segments.len() && message.oneofs().any(|o| o.name() == name) {
            return Ok(());
        }
        let field = message
            .get_field_by_name(name)
            .ok_or_else(|| format!("{path}: {} has no field {name:?}", message.full_name()))?;
        if i + 1 < segments.len() {
            match field.kind() {
                Kind::Message(inner) if field.is_map() => {
                    message = match inner.map_entry_value_field().kind() {
                        Kind::Message(value) => value,
                        _ => return Err(format!("{path}: {name} holds no messages")),
                    };
                }
                Kind::Message(inner) => message = inner,
                _ => return Err(format!("{path}: {name} is not a message")),
            }
        }
    }
    Ok(())
}
