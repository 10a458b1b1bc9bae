//! The marketplace's words: connection states, directory specialties.

use ils_common::company::CompanyType;
pub use ils_entity::trade_connection::ConnectionState;
use ils_kernel::string_enum;

string_enum!(
    /// Which side of a connection the caller is on.
    ConnectionDirection { Outgoing = "OUTGOING", Incoming = "INCOMING" }
);

string_enum!(
    /// What a lab or supplier offers, as listed in the directory. Labs list designs,
    /// materials, coatings and services; suppliers list product categories.
    Specialty {
        // lab designs
        SingleVision = "SINGLE_VISION",
        Bifocal = "BIFOCAL",
        Trifocal = "TRIFOCAL",
        Progressive = "PROGRESSIVE",
        Office = "OFFICE",
        // lab materials, by index
        Index150 = "INDEX_1_50",
        Trivex = "INDEX_1_53",
        Index156 = "INDEX_1_56",
        Polycarbonate = "INDEX_1_59",
        Index160 = "INDEX_1_60",
        Index167 = "INDEX_1_67",
        Index174 = "INDEX_1_74",
        // lab coatings and treatments
        HardCoat = "HARD_COAT",
        AntiReflective = "ANTI_REFLECTIVE",
        BlueFilter = "BLUE_FILTER",
        Photochromic = "PHOTOCHROMIC",
        Polarised = "POLARISED",
        // lab services
        Surfacing = "SURFACING",
        Edging = "EDGING",
        Mounting = "MOUNTING",
        Tinting = "TINTING",
        Coating = "COATING",
        // supplier product categories
        Frames = "FRAMES",
        SpectacleLenses = "SPECTACLE_LENSES",
        LensBlanks = "LENS_BLANKS",
        ContactLenses = "CONTACT_LENSES",
        Sundries = "SUNDRIES",
    }
);

impl Specialty {
    /// Whether a company of this type may list it: product categories are for suppliers,
    /// the rest for labs; practices are not listed.
    pub fn fits(self, kind: CompanyType) -> bool {
        let supplier = matches!(
            self,
            Specialty::Frames
                | Specialty::SpectacleLenses
                | Specialty::LensBlanks
                | Specialty::ContactLenses
                | Specialty::Sundries
        );
        match kind {
            CompanyType::Supplier => supplier,
            CompanyType::Lab => !supplier,
            CompanyType::Ecp => false,
        }
    }
}

/// Who may ask whom: practices ask labs and suppliers, labs ask suppliers.
pub fn may_request(from: CompanyType, to: CompanyType) -> bool {
    matches!(
        (from, to),
        (CompanyType::Ecp, CompanyType::Lab)
            | (CompanyType::Ecp, CompanyType::Supplier)
            | (CompanyType::Lab, CompanyType::Supplier)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_trade_directions_may_request() {
        assert!(may_request(CompanyType::Ecp, CompanyType::Lab));
        assert!(may_request(CompanyType::Ecp, CompanyType::Supplier));
        assert!(may_request(CompanyType::Lab, CompanyType::Supplier));
        assert!(!may_request(CompanyType::Lab, CompanyType::Ecp));
        assert!(!may_request(CompanyType::Supplier, CompanyType::Lab));
        assert!(!may_request(CompanyType::Ecp, CompanyType::Ecp));
    }

    #[test]
    fn specialties_fit_their_company_type() {
        assert!(Specialty::Surfacing.fits(CompanyType::Lab));
        assert!(!Specialty::Surfacing.fits(CompanyType::Supplier));
        assert!(Specialty::Frames.fits(CompanyType::Supplier));
        assert!(!Specialty::Frames.fits(CompanyType::Lab));
        assert!(!Specialty::Progressive.fits(CompanyType::Ecp));
    }
}
