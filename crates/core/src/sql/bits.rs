//! Named bit sets: small `Copy` sets whose every bit has one stable snake_case name — the name
//! is what rules, policies and JSON use (an array of names, never the raw number, which would
//! change meaning if bits were renumbered). [`named_bits!`] writes the constants, the name table
//! and the set operations once for [`super::Flags`] and [`super::Catalogs`].

/// Defines, for a tuple struct `$ty($int)` declared elsewhere: one constant per bit, `ALL`
/// (every bit with its name), the set operations, `|`, `&`, `Display` (names joined by `,`) and
/// serde as an array of names. `$what` names a bit in errors (`unknown flag \`x\``).
macro_rules! named_bits {
    ($ty:ident, $what:literal, { $( $(#[$doc:meta])* $konst:ident = $bit:expr, $name:literal; )* }) => {
        impl $ty {
            $( $(#[$doc])* pub const $konst: $ty = $ty(1 << $bit); )*

            /// Every bit with its name, in bit order; the single source of truth for names.
            pub const ALL: &'static [($ty, &'static str)] = &[ $( ($ty::$konst, $name), )* ];

            /// Nothing set.
            pub const fn empty() -> Self {
                $ty(0)
            }

            /// True when every bit of `other` is set in `self`.
            pub const fn contains(self, other: $ty) -> bool {
                self.0 & other.0 == other.0
            }

            /// True when any bit of `other` is set in `self`.
            pub const fn intersects(self, other: $ty) -> bool {
                self.0 & other.0 != 0
            }

            /// True when nothing is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// Sets the bits of `other`.
            pub fn insert(&mut self, other: $ty) {
                self.0 |= other.0;
            }

            /// Clears the bits of `other`.
            pub fn remove(&mut self, other: $ty) {
                self.0 &= !other.0;
            }

            /// Union of both sets.
            pub const fn union(self, other: $ty) -> $ty {
                $ty(self.0 | other.0)
            }

            /// The single bits that are set, in bit order.
            pub fn iter(self) -> impl Iterator<Item = $ty> {
                $ty::ALL.iter().map(|&(f, _)| f).filter(move |f| self.contains(*f))
            }

            /// Names of the bits that are set, in bit order (what JSON and rules show).
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                $ty::ALL.iter().filter(move |(f, _)| self.contains(*f)).map(|&(_, n)| n)
            }

            /// The bit with this snake_case name.
            pub fn from_name(name: &str) -> Option<$ty> {
                $ty::ALL.iter().find(|(_, n)| *n == name).map(|&(f, _)| f)
            }
        }

        impl std::ops::BitOr for $ty {
            type Output = $ty;
            fn bitor(self, rhs: $ty) -> $ty {
                $ty(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $ty {
            fn bitor_assign(&mut self, rhs: $ty) {
                self.0 |= rhs.0;
            }
        }

        impl std::ops::BitAnd for $ty {
            type Output = $ty;
            fn bitand(self, rhs: $ty) -> $ty {
                $ty(self.0 & rhs.0)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                for (i, name) in self.names().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(name)?;
                }
                Ok(())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = serializer.serialize_seq(Some(self.0.count_ones() as usize))?;
                for name in self.names() {
                    seq.serialize_element(name)?;
                }
                seq.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct NamesVisitor;
                impl<'de> serde::de::Visitor<'de> for NamesVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("an array of ", $what, " names"))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$ty, A::Error> {
                        let mut set = $ty::empty();
                        while let Some(name) = seq.next_element::<&str>()? {
                            match $ty::from_name(name) {
                                Some(f) => set.insert(f),
                                None => {
                                    return Err(serde::de::Error::custom(format!(
                                        concat!("unknown ", $what, " `{}`"),
                                        name
                                    )));
                                }
                            }
                        }
                        Ok(set)
                    }
                }
                deserializer.deserialize_seq(NamesVisitor)
            }
        }
    };
}

pub(crate) use named_bits;
