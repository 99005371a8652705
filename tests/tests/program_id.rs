//! The committed program keypair (deployed by build and localnet scripts) must match declare_id!.

use cross_margin_tests::*;

#[test]
fn committed_keypair_matches_declare_id() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys/cross_margin-keypair.json");
    let bytes: Vec<u8> = std::fs::read_to_string(path)
        .unwrap()
        .trim_matches(|c| c == '[' || c == ']' || c == '\n')
        .split(',')
        .map(|b| b.trim().parse().unwrap())
        .collect();
    let secret: [u8; 32] = bytes[..32].try_into().unwrap();
    let keypair = Keypair::new_from_array(secret);
    assert_eq!(keypair.pubkey(), cross_margin::ID);
    assert_eq!(&bytes[32..], keypair.pubkey().as_ref());
}
