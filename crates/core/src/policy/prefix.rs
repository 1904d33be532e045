//! Longest-prefix match of IPv4 and IPv6 addresses, for zones and datastore address ranges.
//!
//! Layout: one hash map per prefix length that occurs in the policy, keyed by the masked network
//! address, visited from the longest length to the shortest. A lookup is therefore at most one
//! hash probe per *distinct* prefix length (≤ 33 for IPv4, ≤ 129 for IPv6, in practice 3–6),
//! whatever the number of zones and CIDRs — O(prefix length), never a scan over zones. It is
//! simpler than a bit trie (no node arena, no unsafe, no path compression to get right), exact by
//! construction, and the map per length makes "the same CIDR claimed twice" an O(1) load-time
//! check.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, as dual-stack listeners log them) are looked up
//! as the IPv4 address they carry.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

/// Prefixes of one address family: `(length, masked network → value)`, longest length first.
#[derive(Debug, Clone)]
struct Family<K, V> {
    lengths: Vec<(u8, HashMap<K, V>)>,
}

impl<K, V> Default for Family<K, V> {
    fn default() -> Self {
        Family { lengths: Vec::new() }
    }
}

impl<K: std::hash::Hash + Eq + Copy, V> Family<K, V> {
    fn insert(&mut self, len: u8, key: K, value: V) -> Result<(), &V> {
        let pos = match self.lengths.iter().position(|(l, _)| *l <= len) {
            Some(p) if self.lengths[p].0 == len => p,
            Some(p) => {
                self.lengths.insert(p, (len, HashMap::new()));
                p
            }
            None => {
                self.lengths.push((len, HashMap::new()));
                self.lengths.len() - 1
            }
        };
        let map = &mut self.lengths[pos].1;
        if map.contains_key(&key) {
            return Err(&map[&key]);
        }
        map.insert(key, value);
        Ok(())
    }

    fn lookup(&self, mask: impl Fn(u8) -> K) -> Option<(&V, u8)> {
        self.lengths
            .iter()
            .find_map(|(len, map)| map.get(&mask(*len)).map(|v| (v, *len)))
    }
}

fn mask_v4(addr: u32, len: u8) -> u32 {
    addr & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask_v6(addr: u128, len: u8) -> u128 {
    addr & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// A longest-prefix-match table from CIDRs to values.
#[derive(Debug, Clone)]
pub(crate) struct PrefixTable<V> {
    v4: Family<u32, V>,
    v6: Family<u128, V>,
}

impl<V> Default for PrefixTable<V> {
    fn default() -> Self {
        PrefixTable {
            v4: Family::default(),
            v6: Family::default(),
        }
    }
}

impl<V> PrefixTable<V> {
    /// Add a network (its host bits are ignored). On a duplicate network, returns the value that
    /// already claims it.
    pub(crate) fn insert(&mut self, net: IpNet, value: V) -> Result<(), &V> {
        match net {
            IpNet::V4(n) => {
                let len = n.prefix_len();
                self.v4.insert(len, mask_v4(u32::from(n.network()), len), value)
            }
            IpNet::V6(n) => {
                let len = n.prefix_len();
                self.v6.insert(len, mask_v6(u128::from(n.network()), len), value)
            }
        }
    }

    /// The value of the longest prefix holding `ip`, with that prefix's length.
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<(&V, u8)> {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.lookup(|len| mask_v4(a, len))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.lookup(|len| mask_v6(a, len))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(nets: &[(&str, u32)]) -> PrefixTable<u32> {
        let mut t = PrefixTable::default();
        for (n, v) in nets {
            t.insert(n.parse().unwrap(), *v).unwrap();
        }
        t
    }

    #[test]
    fn longest_prefix_wins_in_any_insertion_order() {
        let nets = [
            ("0.0.0.0/0", 0),
            ("10.0.0.0/8", 1),
            ("10.0.16.0/20", 2),
            ("10.0.16.7/32", 3),
        ];
        let mut rev = nets;
        rev.reverse();
        for t in [table(&nets), table(&rev)] {
            let z = |ip: &str| t.lookup(ip.parse().unwrap()).map(|(v, l)| (*v, l));
            assert_eq!(z("10.0.16.7"), Some((3, 32)));
            assert_eq!(z("10.0.16.8"), Some((2, 20)));
            assert_eq!(z("10.0.31.255"), Some((2, 20)));
            assert_eq!(z("10.0.32.0"), Some((1, 8)));
            assert_eq!(z("11.0.0.0"), Some((0, 0)));
            assert_eq!(
                z("::ffff:10.0.16.9"),
                Some((2, 20)),
                "IPv4-mapped is looked up as IPv4"
            );
            assert_eq!(z("2001:db8::1"), None, "no IPv6 prefix");
        }
    }

    #[test]
    fn ipv6_and_duplicates() {
        let mut t = table(&[("2001:db8::/32", 1), ("2001:db8:1::/48", 2), ("::/0", 0)]);
        assert_eq!(t.lookup("2001:db8:1::5".parse().unwrap()).map(|x| *x.0), Some(2));
        assert_eq!(t.lookup("2001:db8:2::5".parse().unwrap()).map(|x| *x.0), Some(1));
        assert_eq!(t.lookup("fe80::1".parse().unwrap()).map(|x| *x.0), Some(0));
        assert_eq!(t.lookup("10.0.0.1".parse().unwrap()), None, "no IPv4 prefix");
        assert_eq!(t.insert("2001:db8::/32".parse().unwrap(), 9), Err(&1));
    }
}
