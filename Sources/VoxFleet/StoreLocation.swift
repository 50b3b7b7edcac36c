import Foundation
import NIOSSL
import PostgresNIO
import VoxCore

/// Where a fleet's shared store is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`
/// (`postgresql://` too), as `--store` and `VOXSERVE_STORE` give it.
public struct StoreLocation: Sendable, Equatable {
    public enum TLSMode: String, Sendable, Equatable {
        /// Plain TCP (a private network, or loopback).
        case disable
        /// TLS when the server offers it (the default, as libpq's).
        case prefer
        /// TLS or nothing.
        case require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// Parses a store URL; throws `.invalidInput` that says what is wrong and shows the shape.
    public init(_ text: String) throws {
        let example = "postgres://voxserve@db.example:5432/voxserve"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              ["postgres", "postgresql"].contains(scheme)
        else {
            throw VoxError.invalidInput("The store must be a PostgreSQL URL like \(example), not '\(text.prefix(80))'.")
        }
        guard let host = components.host, !host.isEmpty else {
            throw VoxError.invalidInput("The store URL names no host: write it like \(example).")
        }
        guard let user = components.user, !user.isEmpty else {
            throw VoxError.invalidInput("The store URL names no user: write it like \(example).")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw VoxError.invalidInput("The store URL names no database: write it like \(example).")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw VoxError.invalidInput("The store URL's port must be 1…65535.") }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            switch item.value {
            case "disable", "allow": tls = .disable
            case "prefer": tls = .prefer
            case "require", "verify-ca", "verify-full": tls = .require
            default: throw VoxError.invalidInput("sslmode must be disable, prefer or require, not '\(item.value ?? "")'.")
            }
        }
        self.host = host
        self.port = port
        self.user = user
        self.password = components.password
        self.database = database
        self.tls = tls
    }

    /// `host:port/database`, for logs and health messages (never the password).
    public var description: String { "\(host):\(port)/\(database)" }

    var clientConfiguration: PostgresClient.Configuration {
        let mode: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: mode = .disable
        case .prefer: mode = .prefer(.makeClientConfiguration())
        case .require: mode = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: mode)
        configuration.options.maximumConnections = 12
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }
}
