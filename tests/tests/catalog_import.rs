//! The supplier catalog CSV import end to end, over GraphQL multipart uploads: a valid file
//! lands in the catalog with every category's attributes; invalid rows are reported by line
//! and column without blocking the valid ones; importing the same file again changes
//! nothing; a file that is not a catalog CSV is refused whole and leaves no trace; progress
//! streams over `catalogImportProgress` and `catalog.import.*` events; only the supplier's
//! admins and managers import, and only the supplier sees its imports.

use ils_tests::imports::{CATALOG, WAIT};
use ils_tests::ws;
use ils_tests::{Auth, Session, TestServer, email, nodes, staff_of};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const ITEMS: &str = "query($after: String) { catalogItems(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node {
        id supplierId sku gtin name brand category price { amount currency }
        minOrderQuantity leadTimeDays active
        frame { model colour eyeSize bridge templeLength bSize frameType material }
        spectacleLens { design index material treatments sphereMin sphereMax cylinderMax diameter }
        lensBlank { index material design baseCurve diameter }
        contactLens { baseCurve diameter power cylinder axis add packSize wearSchedule }
        createdAt updatedAt } } } }";

/// Every column a catalog CSV may have, in the order these tests write them.
const COLUMNS: &[&str] = &[
    "sku",
    "gtin",
    "name",
    "brand",
    "category",
    "price",
    "currency",
    "min_order_quantity",
    "lead_time_days",
    "active",
    "model",
    "colour",
    "eye_size",
    "bridge",
    "temple_length",
    "b_size",
    "frame_type",
    "material",
    "design",
    "index",
    "treatments",
    "sphere_min",
    "sphere_max",
    "cylinder_max",
    "diameter",
    "base_curve",
    "cl_diameter",
    "power",
    "cylinder",
    "axis",
    "add",
    "pack_size",
    "wear_schedule",
];

type Row = Vec<(&'static str, String)>;

/// `body` with its GS1 (mod 10) check digit appended: from the right, digits are weighted
/// 3, 1, 3, 1, …; the check digit brings the sum to a multiple of 10.
fn gtin(body: &str) -> String {
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).expect("a digit");
            if i % 2 == 0 { 3 * d } else { d }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// `gtin(body)` with a wrong check digit.
fn wrong_gtin(body: &str) -> String {
    let good = gtin(body);
    let check = good.chars().last().and_then(|c| c.to_digit(10)).unwrap();
    format!("{body}{}", (check + 1) % 10)
}

/// One CSV field, quoted when it has to be.
fn field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// One line of `cols`, each cell from `cells` by column name (empty when absent).
fn line(cols: &[&str], cells: &[(&'static str, String)]) -> String {
    for (k, _) in cells {
        assert!(cols.contains(k), "test bug: no column {k} in {cols:?}");
    }
    cols.iter()
        .map(|c| {
            cells
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| field(v))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A CSV file: the header `cols`, then `rows`, each line ended by `eol`.
fn csv(cols: &[&str], rows: &[Row], eol: &str) -> Vec<u8> {
    let mut out = cols.join(",");
    out.push_str(eol);
    for r in rows {
        out.push_str(&line(cols, r));
        out.push_str(eol);
    }
    out.into_bytes()
}

fn row(cells: &[(&'static str, &str)]) -> Row {
    cells.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

/// `r` with `col` set to `value` (added when absent).
fn with(mut r: Row, col: &'static str, value: &str) -> Row {
    match r.iter_mut().find(|(k, _)| *k == col) {
        Some(cell) => cell.1 = value.to_owned(),
        None => r.push((col, value.to_owned())),
    }
    r
}

/// `r` without `col`.
fn without(mut r: Row, col: &str) -> Row {
    r.retain(|(k, _)| *k != col);
    r
}

fn frame_row(sku: &str) -> Row {
    row(&[
        ("sku", sku),
        ("gtin", gtin("400638133393").as_str()),
        ("name", "Aviator Classic"),
        ("brand", "Ray-Optic"),
        ("category", "FRAME"),
        ("price", "89.00"),
        ("currency", "EUR"),
        ("min_order_quantity", "2"),
        ("lead_time_days", "3"),
        ("active", "true"),
        ("model", "AV-1"),
        ("colour", "Gold"),
        ("eye_size", "55"),
        ("bridge", "18"),
        ("temple_length", "140"),
        ("b_size", "45"),
        ("frame_type", "FULL_RIM"),
        ("material", "Titanium"),
    ])
}

fn sundry_row(sku: &str, name: &str, price: &str) -> Row {
    row(&[
        ("sku", sku),
        ("name", name),
        ("category", "SUNDRY"),
        ("price", price),
        ("currency", "EUR"),
    ])
}

fn contact_lens_row(sku: &str) -> Row {
    row(&[
        ("sku", sku),
        ("gtin", gtin("03600029145").as_str()),
        ("name", "Toric daily -2.25"),
        ("brand", "Aqualens"),
        ("category", "CONTACT_LENS"),
        ("price", "31.90"),
        ("currency", "EUR"),
        ("base_curve", "8.6"),
        ("cl_diameter", "14.5"),
        ("power", "-2.25"),
        ("cylinder", "-1.25"),
        ("axis", "180"),
        ("pack_size", "30"),
        ("wear_schedule", "DAILY"),
    ])
}

/// The caller's whole catalog (every page), by SKU.
async fn items_by_sku(s: &TestServer, who: &Session) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut after = Value::Null;
    loop {
        let data = s.ok(&who.auth(), ITEMS, json!({ "after": after })).await;
        let conn = &data["catalogItems"];
        for n in nodes(conn) {
            let sku = n["sku"].as_str().expect("sku").to_owned();
            assert!(out.insert(sku.clone(), n).is_none(), "{sku} listed twice");
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

fn assert_bad_file(body: &Value, case: &str) {
    let err = &body["errors"][0];
    assert_eq!(
        err["extensions"]["code"], "BAD_USER_INPUT",
        "{case}: {body}"
    );
    assert_eq!(
        err["extensions"]["field"],
        json!("input.file"),
        "{case}: {body}"
    );
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{case}: no message: {body}"
    );
}

async fn supplier(s: &TestServer, name: &str) -> Session {
    s.sign_up(name, "SUPPLIER", &email("cat-imp")).await
}

#[test]
fn the_test_gtins_follow_gs1() {
    assert_eq!(gtin("400638133393"), "4006381333931"); // EAN-13
    assert_eq!(gtin("03600029145"), "036000291452"); // UPC-A
    assert_eq!(gtin("9638507"), "96385074"); // EAN-8
    assert_ne!(wrong_gtin("400638133393"), gtin("400638133393"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_file_lands_in_the_catalog_with_every_categorys_attributes() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Happy Path Optical Supply").await;
    let rows = vec![
        frame_row("FR-001"),
        row(&[
            ("sku", "FR-002"),
            ("name", "Reader, black"),
            ("category", "frame"),
            ("price", "12.5"),
            ("currency", "eur"),
            ("active", "false"),
            ("eye_size", "52"),
            ("bridge", "20"),
            ("temple_length", "145"),
        ]),
        row(&[
            ("sku", "SL-167-PAL"),
            ("name", "Progressive 1.67 AR"),
            ("brand", "Clearview"),
            ("category", "SPECTACLE_LENS"),
            ("price", "42.00"),
            ("currency", "EUR"),
            ("design", "PROGRESSIVE"),
            ("index", "1.67"),
            ("material", "MR-10"),
            ("treatments", "HARD_COAT|ANTI_REFLECTIVE"),
            ("sphere_min", "-8.00"),
            ("sphere_max", "6.00"),
            ("cylinder_max", "4.00"),
            ("diameter", "70"),
        ]),
        row(&[
            ("sku", "LB-159-4"),
            ("gtin", gtin("9638507").as_str()),
            ("name", "SV blank 1.59 base 4"),
            ("brand", "Clearview"),
            ("category", "LENS_BLANK"),
            ("price", "7.25"),
            ("currency", "EUR"),
            ("lead_time_days", "10"),
            ("index", "1.59"),
            ("material", "Polycarbonate"),
            ("design", "SINGLE_VISION"),
            ("base_curve", "4.00"),
            ("diameter", "75"),
        ]),
        contact_lens_row("CL-T-225"),
        with(
            sundry_row("SU-CLOTH", "Lens cloth, \"micro\" fibre", "0.90"),
            "min_order_quantity",
            "50",
        ),
    ];
    // Excel writes CRLF line ends.
    let bytes = csv(COLUMNS, &rows, "\r\n");

    let imp = CATALOG.start(&s, &sup, "catalog-2025.csv", &bytes).await;
    assert!(
        matches!(
            imp["status"].as_str(),
            Some("QUEUED" | "RUNNING" | "COMPLETED")
        ),
        "{imp}"
    );
    assert_eq!(imp["totalRows"], 6, "{imp}");
    assert_eq!(imp["fileName"], "catalog-2025.csv", "{imp}");
    assert_eq!(imp["byteSize"], bytes.len(), "{imp}");
    let id = imp["id"].as_str().unwrap();

    let done = CATALOG.completed(&s, &sup, id, (6, 0, 0, 0)).await;
    assert_eq!(done["totalRows"], 6, "{done}");
    assert_eq!(done["processedRows"], 6, "{done}");
    assert_eq!(done["errors"], json!([]), "{done}");
    assert_eq!(done["fileName"], "catalog-2025.csv", "{done}");
    assert_eq!(CATALOG.ids(&s, &sup).await, vec![id.to_owned()]);

    let items = items_by_sku(&s, &sup).await;
    assert_eq!(
        items.keys().cloned().collect::<Vec<_>>(),
        [
            "CL-T-225",
            "FR-001",
            "FR-002",
            "LB-159-4",
            "SL-167-PAL",
            "SU-CLOTH"
        ],
        "{items:?}"
    );
    for it in items.values() {
        assert_eq!(it["supplierId"].as_str(), sup.company_id.as_deref(), "{it}");
        assert_eq!(it["price"]["currency"], "EUR", "{it}");
        let blocks = ["frame", "spectacleLens", "lensBlank", "contactLens"];
        let given: Vec<&str> = blocks.into_iter().filter(|b| !it[*b].is_null()).collect();
        let expected: Vec<&str> = match it["category"].as_str() {
            Some("FRAME") => vec!["frame"],
            Some("SPECTACLE_LENS") => vec!["spectacleLens"],
            Some("LENS_BLANK") => vec!["lensBlank"],
            Some("CONTACT_LENS") => vec!["contactLens"],
            Some("SUNDRY") => vec![],
            other => panic!("unexpected category {other:?}: {it}"),
        };
        assert_eq!(given, expected, "attribute blocks of {it}");
    }

    let fr = &items["FR-001"];
    assert_eq!(fr["gtin"], "4006381333931", "{fr}");
    assert_eq!(fr["name"], "Aviator Classic", "{fr}");
    assert_eq!(fr["brand"], "Ray-Optic", "{fr}");
    assert_eq!(fr["category"], "FRAME", "{fr}");
    assert_eq!(fr["price"]["amount"], "89", "{fr}");
    assert_eq!(fr["minOrderQuantity"], 2, "{fr}");
    assert_eq!(fr["leadTimeDays"], 3, "{fr}");
    assert_eq!(fr["active"], true, "{fr}");
    assert_eq!(
        fr["frame"],
        json!({ "model": "AV-1", "colour": "Gold", "eyeSize": 55, "bridge": 18,
                "templeLength": 140, "bSize": 45, "frameType": "FULL_RIM", "material": "Titanium" }),
        "{fr}"
    );

    // Codes in any case, defaults for absent columns, a price with one decimal.
    let fr2 = &items["FR-002"];
    assert_eq!(fr2["name"], "Reader, black", "{fr2}");
    assert_eq!(fr2["category"], "FRAME", "{fr2}");
    assert_eq!(fr2["price"]["amount"], "12.5", "{fr2}");
    assert!(fr2["gtin"].is_null(), "{fr2}");
    assert_eq!(fr2["minOrderQuantity"], 1, "{fr2}");
    assert_eq!(fr2["leadTimeDays"], 0, "{fr2}");
    assert_eq!(fr2["active"], false, "{fr2}");
    assert_eq!(
        fr2["frame"],
        json!({ "model": null, "colour": null, "eyeSize": 52, "bridge": 20,
                "templeLength": 145, "bSize": null, "frameType": null, "material": null }),
        "{fr2}"
    );

    let sl = &items["SL-167-PAL"];
    assert_eq!(sl["category"], "SPECTACLE_LENS", "{sl}");
    assert_eq!(sl["price"]["amount"], "42", "{sl}");
    let lens = &sl["spectacleLens"];
    assert_eq!(lens["design"], "PROGRESSIVE", "{sl}");
    assert_eq!(lens["index"], "1.67", "{sl}");
    assert_eq!(lens["material"], "MR-10", "{sl}");
    assert_eq!(lens["sphereMin"], "-8", "{sl}");
    assert_eq!(lens["sphereMax"], "6", "{sl}");
    assert_eq!(lens["cylinderMax"], "4", "{sl}");
    assert_eq!(lens["diameter"], 70, "{sl}");
    let treatments: BTreeSet<&str> = lens["treatments"]
        .as_array()
        .unwrap_or_else(|| panic!("treatments: {sl}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        treatments,
        BTreeSet::from(["ANTI_REFLECTIVE", "HARD_COAT"]),
        "{sl}"
    );

    let lb = &items["LB-159-4"];
    assert_eq!(lb["gtin"], "96385074", "{lb}");
    assert_eq!(lb["category"], "LENS_BLANK", "{lb}");
    assert_eq!(lb["price"]["amount"], "7.25", "{lb}");
    assert_eq!(lb["leadTimeDays"], 10, "{lb}");
    assert_eq!(
        lb["lensBlank"],
        json!({ "index": "1.59", "material": "Polycarbonate", "design": "SINGLE_VISION",
                "baseCurve": "4", "diameter": 75 }),
        "{lb}"
    );

    let cl = &items["CL-T-225"];
    assert_eq!(cl["gtin"], "036000291452", "{cl}");
    assert_eq!(cl["category"], "CONTACT_LENS", "{cl}");
    assert_eq!(cl["brand"], "Aqualens", "{cl}");
    assert_eq!(cl["price"]["amount"], "31.9", "{cl}");
    assert_eq!(
        cl["contactLens"],
        json!({ "baseCurve": "8.6", "diameter": "14.5", "power": "-2.25", "cylinder": "-1.25",
                "axis": 180, "add": null, "packSize": 30, "wearSchedule": "DAILY" }),
        "{cl}"
    );

    let su = &items["SU-CLOTH"];
    assert_eq!(su["name"], "Lens cloth, \"micro\" fibre", "{su}");
    assert_eq!(su["category"], "SUNDRY", "{su}");
    assert_eq!(su["price"]["amount"], "0.9", "{su}");
    assert_eq!(su["minOrderQuantity"], 50, "{su}");
    assert!(su["gtin"].is_null(), "{su}");

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_are_reported_by_line_and_column_and_valid_rows_still_land() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Row Errors Supply").await;
    let mut lines: Vec<String> = vec![COLUMNS.join(",")];
    // line 2: valid
    lines.push(line(COLUMNS, &frame_row("FR-1")));
    // line 3: a price that is not a number
    lines.push(line(COLUMNS, &sundry_row("SU-BAD-PRICE", "Case", "abc")));
    // line 4: valid
    lines.push(line(COLUMNS, &sundry_row("SU-1", "Cleaning spray", "4.20")));
    // line 5: a GTIN with a wrong check digit
    lines.push(line(
        COLUMNS,
        &with(
            sundry_row("SU-BAD-GTIN", "Screwdriver", "2.00"),
            "gtin",
            &wrong_gtin("400638133393"),
        ),
    ));
    // line 6: a frame without eye_size
    lines.push(line(COLUMNS, &without(frame_row("FR-NO-EYE"), "eye_size")));
    // line 7: a frame with a contact-lens column
    lines.push(line(
        COLUMNS,
        &with(frame_row("FR-POWER"), "power", "-2.00"),
    ));
    // line 8: a short row
    lines.push("SU-SHORT,,Short row,,SUNDRY".to_owned());
    // line 9: valid
    lines.push(line(COLUMNS, &contact_lens_row("CL-1")));
    // line 10: line 2's SKU again (otherwise valid)
    lines.push(line(
        COLUMNS,
        &with(frame_row("FR-1"), "name", "Aviator Classic again"),
    ));
    // line 11: valid
    lines.push(line(COLUMNS, &sundry_row("SU-2", "Nose pads", "0.35")));
    let bytes = format!("{}\n", lines.join("\n")).into_bytes();

    let imp = CATALOG.start(&s, &sup, "with-errors.csv", &bytes).await;
    assert_eq!(imp["totalRows"], 10, "{imp}");
    let id = imp["id"].as_str().unwrap();
    let done = CATALOG.completed(&s, &sup, id, (4, 0, 0, 6)).await;
    assert_eq!(done["totalRows"], 10, "{done}");

    let errors = done["errors"].as_array().expect("errors").clone();
    for e in &errors {
        assert!(
            e["message"].as_str().is_some_and(|m| !m.trim().is_empty()),
            "an error without a message: {e}"
        );
    }
    let rows: BTreeSet<i64> = errors.iter().filter_map(|e| e["row"].as_i64()).collect();
    assert_eq!(
        rows,
        BTreeSet::from([3, 5, 6, 7, 8, 10]),
        "the lines with errors: {errors:?}"
    );
    let has = |row: i64, column: &str| {
        errors
            .iter()
            .any(|e| e["row"] == row && e["column"] == column)
    };
    for (row, column) in [
        (3, "price"),
        (5, "gtin"),
        (6, "eye_size"),
        (7, "power"),
        (10, "sku"),
    ] {
        assert!(
            has(row, column),
            "no error for line {row}, column {column}: {errors:?}"
        );
    }
    assert_eq!(errors.len(), 6, "one error per bad row: {errors:?}");
    let short = errors.iter().find(|e| e["row"] == 8).unwrap();
    assert!(
        short["column"].is_null(),
        "a short row is not one cell's problem: {short}"
    );
    let in_order: Vec<i64> = errors.iter().filter_map(|e| e["row"].as_i64()).collect();
    let mut sorted = in_order.clone();
    sorted.sort();
    assert_eq!(in_order, sorted, "errors are not in file order: {errors:?}");

    let items = items_by_sku(&s, &sup).await;
    assert_eq!(
        items.keys().cloned().collect::<Vec<_>>(),
        ["CL-1", "FR-1", "SU-1", "SU-2"],
        "{items:?}"
    );
    // The first FR-1 row is the one imported.
    assert_eq!(
        items["FR-1"]["name"], "Aviator Classic",
        "{}",
        items["FR-1"]
    );
    assert_eq!(
        items["SU-2"]["price"]["amount"], "0.35",
        "{}",
        items["SU-2"]
    );

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_same_file_again_changes_nothing() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Idempotent Supply").await;
    let rows = vec![
        frame_row("FR-001"),
        sundry_row("SU-1", "Hard case", "3.00"),
        sundry_row("SU-2", "Soft pouch", "1.10"),
        contact_lens_row("CL-1"),
    ];
    let bytes = csv(COLUMNS, &rows, "\n");

    let first = CATALOG.start(&s, &sup, "catalog.csv", &bytes).await;
    CATALOG
        .completed(&s, &sup, first["id"].as_str().unwrap(), (4, 0, 0, 0))
        .await;
    let before = items_by_sku(&s, &sup).await;
    assert_eq!(before.len(), 4, "{before:?}");

    // The same file: every row matches.
    let again = CATALOG.start(&s, &sup, "catalog.csv", &bytes).await;
    assert_eq!(again["totalRows"], 4, "{again}");
    let done = CATALOG
        .completed(&s, &sup, again["id"].as_str().unwrap(), (0, 0, 4, 0))
        .await;
    assert_eq!(done["errors"], json!([]), "{done}");
    let after = items_by_sku(&s, &sup).await;
    assert_eq!(
        after, before,
        "re-importing the same file changed the catalog"
    );

    // One changed price: one update, the rest unchanged.
    let changed = csv(
        COLUMNS,
        &[
            rows[0].clone(),
            rows[1].clone(),
            with(rows[2].clone(), "price", "1.15"),
            rows[3].clone(),
        ],
        "\n",
    );
    let third = CATALOG.start(&s, &sup, "catalog-v2.csv", &changed).await;
    CATALOG
        .completed(&s, &sup, third["id"].as_str().unwrap(), (0, 1, 3, 0))
        .await;
    let now = items_by_sku(&s, &sup).await;
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (sku, item) in &now {
        if sku == "SU-2" {
            assert_eq!(item["id"], before[sku]["id"], "{item}");
            assert_eq!(item["price"]["amount"], "1.15", "{item}");
            assert_ne!(
                item["updatedAt"], before[sku]["updatedAt"],
                "an updated item kept its updatedAt: {item}"
            );
        } else {
            assert_eq!(item, &before[sku], "an unchanged row changed {sku}");
        }
    }
    assert_eq!(CATALOG.ids(&s, &sup).await.len(), 3);

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_catalog_csv_is_refused_whole_and_leaves_no_trace() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Broken Files Supply").await;
    let good_row = "SU-1,Cloth,SUNDRY,1.00,EUR\n";
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10".to_vec();
    png.extend((0..512u32).map(|i| (i * 7919 % 251) as u8));
    let mut latin1 = b"sku,name,category,price,currency\nSU-1,Caf".to_vec();
    latin1.push(0xE9);
    latin1.extend_from_slice(b" cloth,SUNDRY,1.00,EUR\n");

    // (case, file, a word the message must name)
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("an empty file", vec![], None),
        ("a PNG image", png, None),
        ("Latin-1 text", latin1, Some("utf")),
        (
            "a file without a header",
            good_row.as_bytes().to_vec(),
            None,
        ),
        (
            "only unknown columns",
            b"foo,bar\n1,2\n3,4\n".to_vec(),
            None,
        ),
        (
            "an unknown extra column",
            b"sku,name,category,price,currency,colour_code\nSU-1,Cloth,SUNDRY,1.00,EUR,RED\n"
                .to_vec(),
            Some("colour_code"),
        ),
        (
            "no price column",
            b"sku,name,category,currency\nSU-1,Cloth,SUNDRY,EUR\n".to_vec(),
            Some("price"),
        ),
        (
            "a duplicate column",
            b"sku,name,category,price,currency,name\nSU-1,Cloth,SUNDRY,1.00,EUR,Cloth\n".to_vec(),
            Some("name"),
        ),
    ];
    for (case, bytes, word) in &cases {
        let (_, body) = CATALOG.refused(&s, &sup.auth(), bytes).await;
        assert_bad_file(&body, case);
        if let Some(word) = word {
            let msg = body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            assert!(
                msg.contains(word),
                "{case}: the message does not name {word}: {body}"
            );
        }
        assert_eq!(
            CATALOG.ids(&s, &sup).await,
            Vec::<String>::new(),
            "{case}: an import was recorded"
        );
    }

    // A valid file afterwards imports (the refusals were about the files), and by the time
    // it has finished nothing of the refused files has appeared.
    let ok = CATALOG
        .start(
            &s,
            &sup,
            "good.csv",
            b"sku,name,category,price,currency\nSU-OK,Good cloth,SUNDRY,1.00,EUR\n",
        )
        .await;
    let id = ok["id"].as_str().unwrap().to_owned();
    CATALOG.completed(&s, &sup, &id, (1, 0, 0, 0)).await;
    assert_eq!(CATALOG.ids(&s, &sup).await, vec![id]);
    let items = items_by_sku(&s, &sup).await;
    assert_eq!(
        items.keys().cloned().collect::<Vec<_>>(),
        ["SU-OK"],
        "{items:?}"
    );

    s.finish().await;
}

/// A sentinel for `catalog.import.*` subscriptions: imports a one-row file (which emits
/// that import's events) and waits until it has finished, so that the company's next
/// import is not refused as one already under way (its first event may come before its
/// end); returns the import's id, which their data carries.
async fn import_sentinel(s: &TestServer, who: &Session) -> String {
    let sku = format!("SENT-{}", uuid::Uuid::new_v4().simple());
    let bytes = format!("sku,name,category,price,currency\n{sku},Sentinel,SUNDRY,1.00,EUR\n");
    let imp = CATALOG
        .start(s, who, "sentinel.csv", bytes.as_bytes())
        .await;
    let id = imp["id"].as_str().unwrap().to_owned();
    CATALOG.completed(s, who, &id, (1, 0, 0, 0)).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_streams_batch_by_batch_and_ends_with_the_completed_import() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Bulk Supply").await;
    let mut events =
        ws::subscribe_events_ready(&s, &sup.auth(), Some(&["catalog.import.*"]), || {
            import_sentinel(&s, &sup)
        })
        .await;

    const N: usize = 1200;
    let mut text = String::from("sku,name,brand,category,price,currency\n");
    for i in 0..N {
        text.push_str(&format!(
            "BULK-{i:04},Bulk item {i},Bulkco,SUNDRY,{}.{:02},EUR\n",
            1 + i % 50,
            i % 100
        ));
    }
    let bytes = text.into_bytes();
    let imp = CATALOG.start(&s, &sup, "bulk.csv", &bytes).await;
    assert_eq!(imp["totalRows"], N, "{imp}");
    let id = imp["id"].as_str().unwrap().to_owned();

    let mut progress = ws::connect(&s, ws::TRANSPORT_WS).await;
    ws::init(&mut progress, &sup.auth()).await;
    let msgs = ws::collect_operation(
        &mut progress,
        "progress",
        &CATALOG.progress_query(),
        json!({ "id": id }),
        WAIT,
    )
    .await;
    // (Whether the server completed the subscription is checked last, so that everything
    // else is checked either way.)
    let nexts: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "next").collect();
    let ended_with = msgs.last().map(|m| m["type"].clone());
    assert!(
        msgs.iter().all(|m| m["type"] != "error"),
        "the progress subscription failed: {msgs:?}"
    );
    assert!(!nexts.is_empty(), "no progress within {WAIT:?}: {msgs:?}");
    let mut seen = 0;
    let payloads: Vec<&Value> = nexts
        .iter()
        .map(|m| {
            assert!(m["payload"].get("errors").is_none(), "{m}");
            &m["payload"]["data"]["catalogImportProgress"]
        })
        .collect();
    for p in &payloads {
        assert_eq!(p["import"]["id"], id.as_str(), "{p}");
        assert_eq!(p["totalRows"], N, "{p}");
        let processed = p["processedRows"].as_i64().expect("processedRows");
        assert!(
            processed >= seen,
            "processedRows went back from {seen} to {processed}: {payloads:?}"
        );
        seen = processed;
        assert!(
            [0, 500, 1000, 1200].contains(&processed),
            "progress is reported per batch of 500 rows, got {processed}: {payloads:?}"
        );
        assert_eq!(p["created"], processed, "{p}");
        assert_eq!(p["updated"], 0, "{p}");
        assert_eq!(p["unchanged"], 0, "{p}");
        assert_eq!(p["failed"], 0, "{p}");
    }
    let (final_p, before) = payloads.split_last().unwrap();
    for p in before {
        assert!(
            matches!(p["status"].as_str(), Some("QUEUED" | "RUNNING")),
            "a progress report before the last one is final: {payloads:?}"
        );
    }
    assert_eq!(final_p["status"], "COMPLETED", "{payloads:?}");
    assert_eq!(final_p["processedRows"], N, "{final_p}");
    assert_eq!(final_p["created"], N, "{final_p}");
    progress.close(None).await.ok();

    // The query agrees.
    let done = CATALOG.completed(&s, &sup, &id, (N as i64, 0, 0, 0)).await;
    assert_eq!(done["totalRows"], N, "{done}");
    assert_eq!(done["processedRows"], N, "{done}");
    assert_eq!(done["fileName"], "bulk.csv", "{done}");
    assert_eq!(done["byteSize"], bytes.len(), "{done}");
    assert_eq!(done["errors"], json!([]), "{done}");

    // Subscribing to a finished import: its final state, then the end of the stream.
    let mut late = ws::connect(&s, ws::TRANSPORT_WS).await;
    ws::init(&mut late, &sup.auth()).await;
    let late_msgs = ws::collect_operation(
        &mut late,
        "late",
        &CATALOG.progress_query(),
        json!({ "id": id }),
        ws::SHOULD_HAPPEN,
    )
    .await;
    let first = late_msgs
        .first()
        .unwrap_or_else(|| panic!("a finished import's progress sent nothing"));
    assert_eq!(first["type"], "next", "{late_msgs:?}");
    let state = &first["payload"]["data"]["catalogImportProgress"];
    assert_eq!(state["status"], "COMPLETED", "{first}");
    assert_eq!(state["processedRows"], N, "{first}");
    assert_eq!(state["created"], N, "{first}");
    assert!(
        late_msgs.len() <= 2,
        "more than the final state and the end: {late_msgs:?}"
    );
    let late_ended_with = late_msgs.get(1).map(|m| m["type"].clone());
    late.close(None).await.ok();

    // The supplier's events: this import's progress, then its completion.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut progressed = 0;
    let completed_event = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let ev = ws::next_event_within(&mut events, "events", left)
            .await
            .unwrap_or_else(|| panic!("no catalog.import.completed event for {id}"));
        if ev["data"]["importId"] != id.as_str() {
            continue; // a sentinel's
        }
        let processed = ev["data"]["processedRows"].as_i64().expect("processedRows");
        assert!(processed >= progressed, "events went back: {ev}");
        progressed = processed;
        match ev["type"].as_str() {
            Some("catalog.import.progress") => continue,
            Some("catalog.import.completed") => break ev,
            _ => panic!("unexpected event {ev}"),
        }
    };
    let data = &completed_event["data"];
    assert_eq!(data["status"], "COMPLETED", "{completed_event}");
    assert_eq!(data["totalRows"], N, "{completed_event}");
    assert_eq!(data["processedRows"], N, "{completed_event}");
    assert_eq!(data["created"], N, "{completed_event}");
    assert_eq!(data["failed"], 0, "{completed_event}");
    events.close(None).await.ok();

    // Every row landed.
    let items = items_by_sku(&s, &sup).await;
    let bulk = items.keys().filter(|k| k.starts_with("BULK-")).count();
    assert_eq!(bulk, N);
    assert_eq!(items["BULK-1199"]["price"]["amount"], "50.99");

    // After the COMPLETED report the server ended the subscription with `complete`.
    assert_eq!(
        ended_with,
        Some(json!("complete")),
        "the progress subscription was not completed after the import finished \
         (within {WAIT:?}); it sent {msgs:?}"
    );
    assert_eq!(
        late_ended_with,
        Some(json!("complete")),
        "subscribing to a finished import: the server sent its final state but did not end \
         the subscription (within {:?}); it sent {late_msgs:?}",
        ws::SHOULD_HAPPEN
    );

    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_suppliers_managers_import_and_only_the_supplier_sees_its_imports() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Owner Supply").await;
    let other = supplier(&s, "Other Supply").await;
    let ecp = s
        .sign_up("Corner Opticians", "ECP", &email("cat-ecp"))
        .await;
    let staff = staff_of(&s, &sup).await;
    let bytes = b"sku,name,category,price,currency\nSU-1,Cloth,SUNDRY,1.00,EUR\n";

    for (who, auth) in [("an ECP", ecp.auth()), ("a STAFF member", staff.auth())] {
        let (_, body) = CATALOG.refused(&s, &auth, bytes).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{who}: {body}"
        );
    }

    // Without a CSRF-preventing header a multipart request is refused before GraphQL.
    let (status, body) = s
        .upload_with(
            &sup.auth(),
            &CATALOG.upload_query(),
            "catalog.csv",
            bytes,
            false,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(
        CATALOG.ids(&s, &sup).await.is_empty(),
        "a refused upload left an import"
    );
    assert!(items_by_sku(&s, &sup).await.is_empty());

    let imp = CATALOG.start(&s, &sup, "catalog.csv", bytes).await;
    let id = imp["id"].as_str().unwrap().to_owned();
    CATALOG.completed(&s, &sup, &id, (1, 0, 0, 0)).await;
    const NODE: &str =
        "query($id: ID!) { node(id: $id) { id ... on CatalogImport { status created } } }";
    let mine = s.ok(&sup.auth(), NODE, json!({ "id": id })).await;
    assert_eq!(mine["node"]["id"], id.as_str(), "{mine}");
    assert_eq!(mine["node"]["status"], "COMPLETED", "{mine}");
    // The supplier's staff can read it.
    let seen = CATALOG.by_id(&s, &staff, &id).await;
    assert_eq!(seen["id"], id.as_str(), "{seen}");

    // Nobody else can.
    for (who, session) in [("another supplier", &other), ("an ECP", &ecp)] {
        let got = CATALOG.by_id(&s, session, &id).await;
        assert!(got.is_null(), "{who} read the import: {got}");
        let node = s.ok(&session.auth(), NODE, json!({ "id": id })).await;
        assert!(
            node["node"].is_null(),
            "{who} read the import by node: {node}"
        );
        assert!(
            CATALOG.ids(&s, session).await.is_empty(),
            "{who} lists the import"
        );
    }
    assert!(items_by_sku(&s, &other).await.is_empty());
    CATALOG.assert_cannot_follow(&s, &other, &id).await;

    s.finish().await;
}

/// A sundries catalog of `n` rows, about 40 bytes a row.
fn sundries(n: usize) -> Vec<u8> {
    let mut out = String::from("sku,name,category,price,currency\n");
    for i in 0..n {
        out.push_str(&format!("SU-{i:06},Cloth number {i},SUNDRY,0.45,GBP\n"));
    }
    out.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_may_exceed_the_plain_body_limit_only_for_signed_in_members() {
    let s = TestServer::start_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.workers = 0;
    })
    .await;
    let sup = supplier(&s, "Big Upload Frames").await;
    let big = sundries(3000);
    assert!(big.len() > 64 * 1024, "{}", big.len());
    // Anonymous: refused at the plain limit before the body is taken in.
    let (status, body) = s
        .upload(&Auth::None, &CATALOG.upload_query(), "big.csv", &big)
        .await;
    assert_eq!(status, 413, "{body}");
    // A bad credential is refused as such, before the body is read.
    let (status, body) = s
        .upload(
            &Auth::Bearer("not-a-token".into()),
            &CATALOG.upload_query(),
            "big.csv",
            &big,
        )
        .await;
    assert_eq!(
        ils_tests::first_code(&body).as_deref(),
        Some("UNAUTHENTICATED"),
        "{status} {body}"
    );
    // The supplier: the upload limit applies.
    let (status, body) = s
        .upload(&sup.auth(), &CATALOG.upload_query(), "big.csv", &big)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["importCatalog"]["catalogImport"]["totalRows"], 3000,
        "{body}"
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_import_waits_for_the_first_to_finish() {
    // No workers: the first import stays QUEUED.
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let sup = supplier(&s, "One At A Time Frames").await;
    let (status, first) = s
        .upload(&sup.auth(), &CATALOG.upload_query(), "a.csv", &sundries(3))
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first["data"]["importCatalog"]["catalogImport"]["status"], "QUEUED",
        "{first}"
    );
    let (_, second) = s
        .upload(&sup.auth(), &CATALOG.upload_query(), "b.csv", &sundries(3))
        .await;
    assert_eq!(
        ils_tests::first_code(&second).as_deref(),
        Some("CONFLICT"),
        "{second}"
    );
    // Another supplier is not held up.
    let other = supplier(&s, "Other Frames").await;
    let (status, third) = s
        .upload(
            &other.auth(),
            &CATALOG.upload_query(),
            "c.csv",
            &sundries(3),
        )
        .await;
    assert_eq!(status, 200, "{third}");
    assert!(
        third["data"]["importCatalog"]["catalogImport"]["id"].is_string(),
        "{third}"
    );
    assert_eq!(CATALOG.ids(&s, &sup).await.len(), 1);
    s.finish().await;
}

/// An import that runs longer than the job lease finishes in one attempt: its worker
/// extends the lease while it works. (Each attempt used to be cut at the lease, so a long
/// import resumed over several attempts.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_outlives_the_job_lease_completes_in_one_attempt() {
    // (A lease of a few seconds: a heartbeat is a write, and on SQLite it waits behind the
    // import's own batches for the one write lock.)
    let lease = std::time::Duration::from_secs(2);
    let s = TestServer::start_with(|c| {
        c.job_lease_secs = lease.as_secs();
        c.job_poll_ms = 100;
    })
    .await;
    let sup = supplier(&s, "Long Import Frames").await;
    // Enough rows to outlive the lease on each backend (SQLite imports faster).
    let rows = if s.is_postgres() { 40_000 } else { 100_000 };
    let started = std::time::Instant::now();
    let imp = CATALOG.start(&s, &sup, "long.csv", &sundries(rows)).await;
    let id = imp["id"].as_str().unwrap().to_owned();
    CATALOG
        .completed(&s, &sup, &id, (rows as i64, 0, 0, 0))
        .await;
    let took = started.elapsed();
    println!("{rows} rows imported in {took:?} under a {lease:?} lease");
    assert!(
        took > lease,
        "the import took {took:?}, not longer than its lease: the test needs more rows"
    );
    // The job's own outcome is recorded just after the import's last batch.
    let jobs = ils_tests::eventually("the job is settled", std::time::Duration::from_secs(10), || async {
        let jobs = s
            .ok(
                &sup.auth(),
                "{ jobs(filter: { kind: \"marketplace.catalog_import\" }, first: 10) { edges { node { status attempts lastError } } } }",
                json!({}),
            )
            .await;
        let jobs = nodes(&jobs["jobs"]);
        if jobs.iter().any(|j| j["status"] == "RUNNING") { Err(jobs) } else { Ok(jobs) }
    })
    .await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["status"], "SUCCEEDED", "{jobs:?}");
    assert_eq!(jobs[0]["attempts"], 1, "{jobs:?}");
    s.finish().await;
}

/// Fills `supplier`'s catalog below the guard with copies of its item `sku` until it holds
/// `total` items (a test's setup: a plan's whole catalog through the API would take
/// minutes).
#[allow(clippy::disallowed_methods)] // a test's setup, below the guard on purpose
async fn fill_catalog(s: &TestServer, supplier: &Session, sku: &str, total: u64) {
    use ils_entity::catalog_item::Column;
    use sea_orm::{ConnectionTrait, Iterable};
    let db = sea_orm::Database::connect(&s.database_url)
        .await
        .expect("database reachable");
    let postgres = s.database_url.starts_with("postgres");
    let id = ils_tests::company_uuid(supplier);
    let company = if postgres {
        format!("'{id}'")
    } else {
        format!("X'{}'", id.simple())
    };
    let have: u64 = {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM catalog_items WHERE company_id = {company}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap() as u64
    };
    let copies = total - have;
    let columns: Vec<String> = Column::iter()
        .map(|c| sea_orm::IdenStatic::as_str(&c).to_owned())
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" if postgres => "gen_random_uuid()".into(),
            "id" => "randomblob(16)".into(),
            "sku" | "search_text" => format!("c.{c} || '-' || s.n"),
            _ => format!("c.{c}"),
        })
        .collect();
    db.execute_unprepared(&format!(
        "INSERT INTO catalog_items ({cols})
         WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {copies})
         SELECT {vals} FROM catalog_items c, s WHERE c.company_id = {company} AND c.sku = '{sku}'",
        cols = columns.join(", "),
        vals = values.join(", "),
    ))
    .await
    .expect("catalog filled");
    db.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_adds_items_only_while_the_plan_has_room_and_still_changes_the_rest() {
    let s = TestServer::start().await;
    let sup = supplier(&s, "Full Shelves Supply").await;
    let first = CATALOG
        .start(
            &s,
            &sup,
            "start.csv",
            &csv(COLUMNS, &[frame_row("FR-001")], "\n"),
        )
        .await;
    CATALOG
        .completed(&s, &sup, first["id"].as_str().unwrap(), (1, 0, 0, 0))
        .await;
    // The full plan includes 100,000 catalog items: two places are left.
    fill_catalog(&s, &sup, "FR-001", 99_998).await;

    let rows = vec![
        with(frame_row("FR-001"), "price", "92.00"),
        frame_row("FR-NEW-1"),
        frame_row("FR-NEW-2"),
        frame_row("FR-NEW-3"),
        frame_row("FR-NEW-4"),
    ];
    let imp = CATALOG
        .start(&s, &sup, "more.csv", &csv(COLUMNS, &rows, "\n"))
        .await;
    let done = CATALOG
        .completed(&s, &sup, imp["id"].as_str().unwrap(), (2, 1, 0, 2))
        .await;
    let errors = done["errors"].as_array().unwrap();
    assert_eq!(
        errors
            .iter()
            .map(|e| e["row"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [5, 6],
        "{done}"
    );
    for e in errors {
        assert_eq!(e["column"], "sku", "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("the FULL plan includes 100000 catalog items"),
            "{e}"
        );
    }

    // The catalog is full: one more by hand is PLAN_LIMIT, with the limit and no plan
    // above; changing an item already there is never refused.
    let (_, body) = s
        .post(
            &sup.auth(),
            "mutation($i: CreateCatalogItemInput!) { createCatalogItem(input: $i) { catalogItem { id } } }",
            json!({ "i": { "sku": "BY-HAND", "name": "Cloth", "category": "SUNDRY",
                "price": { "amount": "1.00", "currency": "EUR" } } }),
        )
        .await;
    let err = &body["errors"][0];
    assert_eq!(err["extensions"]["code"], "PLAN_LIMIT", "{body}");
    assert_eq!(err["extensions"]["limit"], "catalogItems", "{body}");
    assert_eq!(err["extensions"]["max"], 100_000, "{body}");
    assert!(err["extensions"]["plan"].is_null(), "{body}");
    let again = CATALOG
        .start(
            &s,
            &sup,
            "price.csv",
            &csv(
                COLUMNS,
                &[with(frame_row("FR-NEW-1"), "price", "95.00")],
                "\n",
            ),
        )
        .await;
    CATALOG
        .completed(&s, &sup, again["id"].as_str().unwrap(), (0, 1, 0, 0))
        .await;
}
