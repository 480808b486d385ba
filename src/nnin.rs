//! Norwegian national identity numbers (fødselsnummer, D-number, and the
//! synthetic test numbers): the shape and the two mod-11 control digits,
//! checked before a number is sent anywhere. A typo or a made-up number is
//! refused here instead of costing a call to BIB (and a rate-limit budget).

/// The weights of the first control digit (over digits 1–9) and of the
/// second (over digits 1–10), from the number's published definition.
const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Whether `number` is 11 ASCII digits whose two control digits hold.
pub(crate) fn is_well_formed(number: &str) -> bool {
    let bytes = number.as_bytes();
    if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let digit = |i: usize| u32::from(bytes[i] - b'0');
    let control = |weights: &[u32]| {
        let sum: u32 = weights.iter().enumerate().map(|(i, w)| w * digit(i)).sum();
        match 11 - sum % 11 {
            11 => Some(0),
            10 => None,
            c => Some(c),
        }
    };
    control(&K1) == Some(digit(9)) && control(&K2) == Some(digit(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_digits_are_checked() {
        for good in ["13097248022", "14889010291"] {
            assert!(is_well_formed(good), "{good}");
        }
        assert!(!is_well_formed("13097248023"), "second control digit off by one");
        assert!(!is_well_formed("13097248012"), "first control digit off by one");
        assert!(!is_well_formed("1309724802"), "ten digits");
        assert!(!is_well_formed("130972480221"), "twelve digits");
        assert!(!is_well_formed("1309724802x"));
        assert!(!is_well_formed("١٣٠٩٧٢٤٨٠٢٢"), "only ASCII digits");
    }
}
