//! Reading a device tree blob back: a small parser (for tests and `semu dtb --dts`) and a DTS
//! printer.

use std::fmt::Write;

/// A node of a parsed device tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Name with unit address (`cpu@0`); empty for the root.
    pub name: String,
    /// Properties in blob order.
    pub props: Vec<(String, Vec<u8>)>,
    /// Child nodes in blob order.
    pub children: Vec<Node>,
}

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(|| format!("truncated at {at}"))
}

fn cstr(b: &[u8], at: usize) -> Result<&str, String> {
    let s = b.get(at..).ok_or("string out of range")?;
    let end = s.iter().position(|&c| c == 0).ok_or("unterminated string")?;
    std::str::from_utf8(&s[..end]).map_err(|e| e.to_string())
}

/// Parses a flattened device tree blob.
pub fn parse(blob: &[u8]) -> Result<Node, String> {
    if be32(blob, 0)? != FDT_MAGIC {
        return Err("bad magic".into());
    }
    let total = be32(blob, 4)? as usize;
    if total > blob.len() {
        return Err("totalsize exceeds the blob".into());
    }
    let off_struct = be32(blob, 8)? as usize;
    let off_strings = be32(blob, 12)? as usize;
    let mut at = off_struct;
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let token = be32(blob, at)?;
        at += 4;
        match token {
            FDT_BEGIN_NODE => {
                let name = cstr(blob, at)?.to_string();
                at = (at + name.len() + 1).next_multiple_of(4);
                stack.push(Node { name, ..Node::default() });
            }
            FDT_END_NODE => {
                let node = stack.pop().ok_or("unbalanced end of node")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            FDT_PROP => {
                let len = be32(blob, at)? as usize;
                let name = cstr(blob, off_strings + be32(blob, at + 4)? as usize)?.to_string();
                let value = blob.get(at + 8..at + 8 + len).ok_or("property out of range")?.to_vec();
                at = (at + 8 + len).next_multiple_of(4);
                stack.last_mut().ok_or("property outside a node")?.props.push((name, value));
            }
            FDT_NOP => {}
            FDT_END => break,
            t => return Err(format!("bad token {t:#x} at {}", at - 4)),
        }
    }
    root.ok_or_else(|| "no root node".into())
}

impl Node {
    /// The node at `path` (`/cpus/cpu@0`), relative to this one.
    pub fn find(&self, path: &str) -> Option<&Node> {
        path.split('/').filter(|p| !p.is_empty()).try_fold(self, |n, part| n.children.iter().find(|c| c.name == part))
    }

    /// Raw value of property `name`.
    pub fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Property as big-endian u32 cells.
    pub fn u32s(&self, name: &str) -> Option<Vec<u32>> {
        let v = self.prop(name)?;
        (v.len() % 4 == 0).then(|| v.chunks(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// Property as one u32.
    pub fn u32(&self, name: &str) -> Option<u32> {
        match self.u32s(name)?.as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// Property as a string list.
    pub fn strs(&self, name: &str) -> Option<Vec<String>> {
        let v = self.prop(name)?;
        let v = v.strip_suffix(&[0])?;
        v.split(|&c| c == 0).map(|s| String::from_utf8(s.to_vec()).ok()).collect()
    }

    /// Property as one string.
    pub fn str(&self, name: &str) -> Option<String> {
        self.strs(name)?.into_iter().next()
    }
}

fn is_string_list(v: &[u8]) -> bool {
    v.last() == Some(&0)
        && v[0] != 0
        && !v.windows(2).any(|w| w == [0, 0])
        && v.iter().all(|&c| c == 0 || (0x20..0x7f).contains(&c))
}

/// Prints `root` as device tree source.
pub fn to_dts(root: &Node) -> String {
    let mut s = String::from("/dts-v1/;\n\n");
    print_node(&mut s, root, 0);
    s
}

fn print_node(s: &mut String, n: &Node, depth: usize) {
    let pad = "\t".repeat(depth);
    let name = if n.name.is_empty() { "/" } else { &n.name };
    let _ = writeln!(s, "{pad}{name} {{");
    for (k, v) in &n.props {
        let _ = write!(s, "{pad}\t{k}");
        if v.is_empty() {
            s.push_str(";\n");
        } else if is_string_list(v) {
            let parts: Vec<String> =
                v[..v.len() - 1].split(|&c| c == 0).map(|p| format!("\"{}\"", String::from_utf8_lossy(p))).collect();
            let _ = writeln!(s, " = {};", parts.join(", "));
        } else if v.len() % 4 == 0 {
            let cells: Vec<String> =
                v.chunks(4).map(|c| format!("{:#x}", u32::from_be_bytes([c[0], c[1], c[2], c[3]]))).collect();
            let _ = writeln!(s, " = <{}>;", cells.join(" "));
        } else {
            let bytes: Vec<String> = v.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(s, " = [{}];", bytes.join(" "));
        }
    }
    for c in &n.children {
        s.push('\n');
        print_node(s, c, depth + 1);
    }
    let _ = writeln!(s, "{pad}}};");
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_fdt::FdtWriter;

    #[test]
    fn round_trips_a_small_tree() {
        let mut w = FdtWriter::new().unwrap();
        let r = w.begin_node("").unwrap();
        w.property_string_list("compatible", vec!["a,b".into(), "c".into()]).unwrap();
        let c = w.begin_node("child@10").unwrap();
        w.property_u32("reg", 0x10).unwrap();
        w.property_null("flag").unwrap();
        w.end_node(c).unwrap();
        w.end_node(r).unwrap();
        let blob = w.finish().unwrap();
        let root = parse(&blob).unwrap();
        assert_eq!(root.strs("compatible").unwrap(), ["a,b", "c"]);
        let child = root.find("/child@10").unwrap();
        assert_eq!(child.u32("reg"), Some(0x10));
        assert_eq!(child.prop("flag"), Some(&[][..]));
        let dts = to_dts(&root);
        assert!(dts.contains("compatible = \"a,b\", \"c\";"), "{dts}");
        assert!(dts.contains("reg = <0x10>;") && dts.contains("flag;"), "{dts}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"\xd0\x0d\xfe\xed\xff\xff\xff\xff").is_err());
        assert!(parse(&[0; 64]).is_err());
    }
}
