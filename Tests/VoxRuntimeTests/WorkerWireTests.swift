import Foundation
import Testing
import VoxCore
@testable import VoxRuntime

@Suite struct WorkerWireTests {
    @Test func framesRoundTripWithTheirPayload() throws {
        var message = WorkerWire.Message(.chunk, id: 7)
        message.index = 2
        message.sampleRate = 22050
        message.conditioning = .diskHit
        let samples: [Float] = [0, 0.5, -1, 1e-7]
        let data = try WorkerWire.encode(.init(message, payload: WorkerWire.payload(samples)))
        // 4-byte big-endian header length, JSON header, float32 payload.
        let headerLength = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
        #expect(data.count == 4 + headerLength + 16)
        var offset = 0
        let frame = try #require(try WorkerWire.decode { n in
            defer { offset += n }
            return offset + n <= data.count ? data.subdata(in: offset..<offset + n) : nil
        })
        #expect(frame.message.type == .chunk)
        #expect(frame.message.id == 7)
        #expect(frame.message.payloadBytes == 16)
        #expect(frame.message.conditioning == .diskHit)
        #expect(WorkerWire.samples(frame.payload) == samples)
    }

    @Test func errorKindsAndCacheCountersTravelTyped() throws {
        var failed = WorkerWire.Message(.failed, id: 3)
        failed.errorKind = .invalidAudio
        var done = WorkerWire.Message(.done, id: 4)
        done.cacheStats = ServiceStatus.Cache(hits: 2, misses: 1, evictions: 0, bytes: 4096, entries: 1)
        for message in [failed, done] {
            let data = try WorkerWire.encode(.init(message))
            var offset = 0
            let frame = try #require(try WorkerWire.decode { n in
                defer { offset += n }
                return offset + n <= data.count ? data.subdata(in: offset..<offset + n) : nil
            })
            #expect(frame.message == message)
        }
        // The kind is its raw value on the wire, so a worker and a server agree on it by name.
        let header = String(decoding: try WorkerWire.encode(.init(failed)).dropFirst(4), as: UTF8.self)
        #expect(header.contains(#""errorKind":"invalid_audio""#))
    }

    @Test func anOversizedHeaderLengthIsAProtocolError() {
        let data = Data([0x7F, 0xFF, 0xFF, 0xFF])
        var offset = 0
        #expect(throws: WorkerWire.ProtocolError.self) {
            _ = try WorkerWire.decode { n in
                defer { offset += n }
                return data.subdata(in: offset..<min(data.count, offset + n))
            }
        }
    }
}

