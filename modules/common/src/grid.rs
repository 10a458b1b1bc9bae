//! The optical grids: a value range with a step (0.25 D for powers, 0.1 mm for contact
//! lens sizes, 0.5 mm for PDs…), checked with exact decimal arithmetic, never floats.
//! One type for every module that validates optical values (catalog items here, orders'
//! prescriptions and fittings).

use rust_decimal::Decimal;

/// A decimal range with a step, and how its bounds are shown in messages.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Bounds and step in units of `10^-scale`.
    pub min: i64,
    pub max: i64,
    pub step: i64,
    /// Decimal places shown and stored.
    pub scale: u32,
    /// Show a `+` on positive bounds (dioptres).
    pub signed: bool,
    /// Unit after the bounds, e.g. " mm".
    pub unit: &'static str,
}

impl Grid {
    /// Dioptres in 0.25 steps; bounds in hundredths.
    pub const fn dioptres(min: i64, max: i64) -> Grid {
        Grid {
            min,
            max,
            step: 25,
            scale: 2,
            signed: true,
            unit: "",
        }
    }

    /// Millimetres in 0.5 steps; bounds in tenths.
    pub const fn half_mm(min: i64, max: i64) -> Grid {
        Grid {
            min,
            max,
            step: 5,
            scale: 1,
            signed: false,
            unit: " mm",
        }
    }

    /// Millimetres in 0.1 steps; bounds in tenths.
    pub const fn tenths_mm(min: i64, max: i64) -> Grid {
        Grid {
            min,
            max,
            step: 1,
            scale: 1,
            signed: false,
            unit: " mm",
        }
    }

    /// Millimetres to 0.01; bounds in hundredths.
    pub const fn mm(min: i64, max: i64) -> Grid {
        Grid {
            min,
            max,
            step: 1,
            scale: 2,
            signed: false,
            unit: " mm",
        }
    }

    /// Whether `value` is in range and on a step.
    pub fn contains(&self, value: Decimal) -> bool {
        let min = Decimal::new(self.min, self.scale);
        let max = Decimal::new(self.max, self.scale);
        let step = Decimal::new(self.step, self.scale);
        (min..=max).contains(&value) && value.checked_rem(step).is_some_and(|r| r.is_zero())
    }

    fn show(&self, value: i64) -> String {
        let d = Decimal::new(value, self.scale);
        if self.signed && value > 0 {
            format!("+{d}")
        } else {
            d.to_string()
        }
    }

    /// What a refused value is told: "between -20.00 and +20.00 in 0.25 steps".
    pub fn message(&self) -> String {
        format!(
            "between {} and {}{} in {} steps",
            self.show(self.min),
            self.show(self.max),
            self.unit,
            Decimal::new(self.step, self.scale)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_exact_and_messages_show_the_range() {
        let g = Grid::dioptres(-2000, 2000);
        assert!(g.contains("-0.25".parse().unwrap()));
        assert!(!g.contains("0.125".parse().unwrap()));
        assert!(!g.contains("-20.25".parse().unwrap()));
        assert_eq!(g.message(), "between -20.00 and +20.00 in 0.25 steps");
        assert_eq!(
            Grid::half_mm(200, 400).message(),
            "between 20.0 and 40.0 mm in 0.5 steps"
        );
    }
}
