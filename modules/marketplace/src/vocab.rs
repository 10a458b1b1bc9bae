//! The marketplace's words: connection statuses and directions, directory specialties.

use ils_common::company::CompanyType;
pub use ils_entity::trade_connection::ConnectionStatus;
use ils_kernel::string_enum;

string_enum!(
    /// Which side of a connection the caller is on.
    ConnectionDirection {
        /// Your company asked the other to connect (it is the requester).
        Outgoing = "OUTGOING",
        /// The other company asked yours (yours is the responder, the one that answers).
        Incoming = "INCOMING",
    }
);

string_enum!(
    /// What a lab or supplier offers, as listed in the directory. Labs list designs,
    /// materials, coatings and services; suppliers list product categories.
    Specialty {
        // lab designs
        /// Single-vision lenses (lab design).
        SingleVision = "SINGLE_VISION",
        /// Bifocal lenses (lab design).
        Bifocal = "BIFOCAL",
        /// Trifocal lenses (lab design).
        Trifocal = "TRIFOCAL",
        /// Progressive (varifocal) lenses (lab design).
        Progressive = "PROGRESSIVE",
        /// Office / occupational lenses for near and intermediate distances (lab design).
        Office = "OFFICE",
        // lab materials, by index
        /// Lenses in index 1.50 material, standard plastic (lab material).
        Index150 = "INDEX_1_50",
        /// Lenses in index 1.53 material, Trivex (lab material).
        Trivex = "INDEX_1_53",
        /// Lenses in index 1.56 material (lab material).
        Index156 = "INDEX_1_56",
        /// Lenses in index 1.59 material, polycarbonate (lab material).
        Polycarbonate = "INDEX_1_59",
        /// Lenses in index 1.60 material (lab material).
        Index160 = "INDEX_1_60",
        /// Lenses in index 1.67 material (lab material).
        Index167 = "INDEX_1_67",
        /// Lenses in index 1.74 material, the thinnest (lab material).
        Index174 = "INDEX_1_74",
        // lab coatings and treatments
        /// Scratch-resistant hard coating (lab coating).
        HardCoat = "HARD_COAT",
        /// Anti-reflective coating (lab coating).
        AntiReflective = "ANTI_REFLECTIVE",
        /// Blue-light filtering coating (lab coating).
        BlueFilter = "BLUE_FILTER",
        /// Photochromic lenses that darken in sunlight (lab treatment).
        Photochromic = "PHOTOCHROMIC",
        /// Polarised lenses (lab treatment).
        Polarised = "POLARISED",
        // lab services
        /// Surfacing: grinding prescriptions into lens blanks (lab service).
        Surfacing = "SURFACING",
        /// Edging: cutting lenses to the frame shape (lab service).
        Edging = "EDGING",
        /// Mounting: fitting the edged lenses into the frame (lab service).
        Mounting = "MOUNTING",
        /// Tinting lenses (lab service).
        Tinting = "TINTING",
        /// Applying coatings in house (lab service).
        Coating = "COATING",
        // supplier product categories
        /// Spectacle frames (supplier product category).
        Frames = "FRAMES",
        /// Finished spectacle lenses (supplier product category).
        SpectacleLenses = "SPECTACLE_LENSES",
        /// Semi-finished lens blanks for surfacing (supplier product category).
        LensBlanks = "LENS_BLANKS",
        /// Contact lenses (supplier product category).
        ContactLenses = "CONTACT_LENSES",
        /// Sundries: cases, cloths, cleaning solutions, other accessories (supplier category).
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
