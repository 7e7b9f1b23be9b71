//! ISA strings, checked against what the hart implements.

/// Extensions semu implements, in canonical order.
pub const IMPLEMENTED: &[&str] = &["i", "m", "a", "zicsr", "zifencei", "zicntr"];

/// A parsed ISA string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isa {
    /// Extensions, in canonical order (always starts with `i`).
    pub extensions: Vec<&'static str>,
}

impl Isa {
    /// Parses e.g. `rv32ima_zicsr_zifencei`. Anything semu does not implement is an error that says
    /// what is supported.
    pub fn parse(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        let rest = lower.strip_prefix("rv32").ok_or_else(|| {
            format!("ISA \"{s}\" is not an RV32 ISA string: semu implements rv32ima_zicsr_zifencei_zicntr")
        })?;
        let mut parts = rest.split('_');
        let singles = parts.next().unwrap_or("");
        let mut found: Vec<&str> = Vec::new();
        let mut chars = singles.chars();
        match chars.next() {
            Some('i') => found.push("i"),
            Some('g') => return Err(format!("ISA \"{s}\": \"g\" implies F and D, which semu does not implement")),
            _ => return Err(format!("ISA \"{s}\": the base must be \"i\" (rv32i...)")),
        }
        for c in chars {
            let ext = IMPLEMENTED.iter().find(|e| e.len() == 1 && e.starts_with(c)).ok_or_else(|| {
                format!(
                    "ISA \"{s}\": extension \"{c}\" is not implemented (semu implements rv32ima_zicsr_zifencei_zicntr)"
                )
            })?;
            found.push(ext);
        }
        for p in parts {
            if p.is_empty() {
                return Err(format!("ISA \"{s}\": empty extension name"));
            }
            let ext = IMPLEMENTED.iter().find(|e| e.len() > 1 && **e == p).ok_or_else(|| {
                format!(
                    "ISA \"{s}\": extension \"{p}\" is not implemented (semu implements rv32ima_zicsr_zifencei_zicntr)"
                )
            })?;
            found.push(ext);
        }
        let mut extensions: Vec<&'static str> = IMPLEMENTED.iter().copied().filter(|e| found.contains(e)).collect();
        extensions.dedup();
        if found.len() != extensions.len() {
            return Err(format!("ISA \"{s}\": an extension is named twice"));
        }
        if !extensions.contains(&"zicsr") {
            return Err(format!(
                "ISA \"{s}\" lacks zicsr, which the privileged architecture (M, S and U modes, traps, \
                 paging) needs: add _zicsr"
            ));
        }
        Ok(Self { extensions })
    }

    /// Whether extension `e` is present.
    pub fn has(&self, e: &str) -> bool {
        self.extensions.contains(&e)
    }

    /// Canonical string, e.g. `rv32ima_zicsr_zifencei`.
    pub fn canonical(&self) -> String {
        let mut s = String::from("rv32");
        for e in self.extensions.iter().filter(|e| e.len() == 1) {
            s.push_str(e);
        }
        for e in self.extensions.iter().filter(|e| e.len() > 1) {
            s.push('_');
            s.push_str(e);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let isa = Isa::parse("RV32IMA_Zicsr_Zifencei").unwrap();
        assert_eq!(isa.canonical(), "rv32ima_zicsr_zifencei");
        assert!(isa.has("a") && !isa.has("zicntr"));
        assert_eq!(Isa::parse("rv32ia_zicsr").unwrap().canonical(), "rv32ia_zicsr");
        assert!(Isa::parse("rv32ima").unwrap_err().contains("lacks zicsr"));
        assert!(Isa::parse("rv64ima").unwrap_err().contains("RV32"));
        assert!(Isa::parse("rv32imac").unwrap_err().contains("\"c\""));
        assert!(Isa::parse("rv32gc").unwrap_err().contains("F and D"));
        assert!(Isa::parse("rv32ima_zba").unwrap_err().contains("zba"));
        assert!(Isa::parse("rv32imm").unwrap_err().contains("twice"));
        assert!(Isa::parse("rv32ima__zicsr").is_err());
    }
}
