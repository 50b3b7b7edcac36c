import Testing
import VoxCore
@testable import VoxFleet

@Suite struct StoreLocationTests {
    @Test func aPostgresURLGivesEveryPart() throws {
        let location = try StoreLocation("postgres://vox:s3cret@db.example:6543/voices?sslmode=require")
        #expect(location.host == "db.example" && location.port == 6543)
        #expect(location.user == "vox" && location.password == "s3cret" && location.database == "voices")
        #expect(location.tls == .require)
        #expect(location.description == "db.example:6543/voices", "never the password")
        let defaults = try StoreLocation("postgresql://vox@127.0.0.1/voxserve")
        #expect(defaults.port == 5432 && defaults.password == nil && defaults.tls == .prefer)
    }

    @Test(arguments: [
        "mysql://vox@h/db", "postgres://h/db", "postgres://vox@/db", "postgres://vox@h", "postgres://vox@h/", "not a url",
        "postgres://vox@h/db?sslmode=sometimes", "postgres://vox@h:70000/db",
    ])
    func aWrongURLSaysWhatIsWrong(_ text: String) {
        #expect(throws: VoxError.self) { try StoreLocation(text) }
    }

    @Test func lockIDsComeFromTheDigest() {
        // Two keys differing only after the first 16 hex digits share a lock: harmless (they wait
        // for each other); different prefixes never do.
        #expect(PostgresConditioningStore.lockID(forDigest: "00000000000000ff" + String(repeating: "a", count: 48)) == 255)
        #expect(PostgresConditioningStore.lockID(forDigest: "ffffffffffffffff" + String(repeating: "0", count: 48)) == -1)
    }
}
