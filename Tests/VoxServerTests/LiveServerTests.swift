import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxAudio
@testable import VoxServer

@Suite struct LiveServerTests {
    @Test func speechOverARealSocket() async throws {
        // The engine is built first: the live client gives up after 15 s without a byte, and this
        // test is about the socket, not about a cold start on a machine busy with other suites.
        try await Shared.service.warmUp()
        try await makeApp().test(.live) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Over a real socket.", "response_format": "wav"]))
            #expect(response.status == .ok)
            let audio = try AudioDecoder().decode(response.body.data, label: "live")
            #expect(plausibleDuration(audio.duration, for: "Over a real socket."))
            let r1 = try await client.execute(uri: "/healthz", method: .get)
            #expect(r1.status == .ok)
        }
    }

    @Test func streamingArrivesInSeveralChunksTheFirstWellBeforeTheLast() async throws {
        let text = "The first sentence is short. The second sentence is a little longer than that. The third one ends it."
        try await makeApp().test(.live) { client in
            let port = try #require(client.port)
            let body = try JSONSerialization.data(withJSONObject: ["input": text, "response_format": "wav", "stream": true])
            let result = try await offloadBlocking { try RawHTTPClient.post(port: port, path: "/v1/audio/speech", body: body) }
            #expect(result.status == 200)
            #expect(result.headers["transfer-encoding"]?.lowercased() == "chunked")
            #expect(result.chunks.count >= 3, "one chunk per sentence, got \(result.chunks.count)")
            let first = try #require(result.chunks.first)
            let last = try #require(result.chunks.last)
            #expect(last.time - first.time > 0.01, "audio arrived all at once")
            let wav = result.chunks.reduce(Data()) { $0 + $1.data }
            let audio = try AudioDecoder().decode(wav, label: "chunks")
            #expect(plausibleDuration(audio.duration, for: text))
        }
    }
}

func offloadBlocking<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}

/// A minimal HTTP/1.1 client over a blocking socket that keeps the chunks of a chunked body apart,
/// with the time each arrived (seconds since the request was sent).
enum RawHTTPClient {
    struct Chunk { var data: Data; var time: Double }
    struct Result {
        var status: Int
        var headers: [String: String]
        var chunks: [Chunk]
    }

    /// A blocking TCP socket connected to 127.0.0.1:`port`, or nil when the connection is refused.
    static func connectLoopback(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    static func post(port: Int, path: String, body: Data) throws -> Result {
        let fd = try #require(connectLoopback(port: port), "cannot connect to 127.0.0.1:\(port)")
        defer { close(fd) }
        var request = Data("POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        request.append(body)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        let start = Date()

        var buffer = Data()
        var times: [(Int, Double)] = []  // (buffer length after a read, time)
        var scratch = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &scratch, scratch.count, 0)
            if n <= 0 { break }
            buffer.append(contentsOf: scratch[0..<n])
            times.append((buffer.count, Date().timeIntervalSince(start)))
        }
        let separator = try #require(buffer.range(of: Data("\r\n\r\n".utf8)))
        let head = String(decoding: buffer[..<separator.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 { headers[kv[0].lowercased()] = kv[1] }
        }
        var chunks: [Chunk] = []
        var i = separator.upperBound
        let bytes = [UInt8](buffer)
        while i < bytes.count {
            guard let lineEnd = buffer.range(of: Data("\r\n".utf8), in: i..<buffer.count) else { break }
            let size = Int(String(decoding: bytes[i..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            let end = start + size
            guard end <= bytes.count else { break }
            let arrived = times.first { $0.0 >= end }?.1 ?? 0
            chunks.append(Chunk(data: Data(bytes[start..<end]), time: arrived))
            i = end + 2
        }
        return Result(status: status, headers: headers, chunks: chunks)
    }
}
