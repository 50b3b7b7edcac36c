import Foundation
import Testing
import VoxAudio
import VoxCore

@Suite struct WAVStreamTests {
    @Test(arguments: [22050, 24000, 48000])
    func headerDeclaresOpenEnded16BitMonoPCM(sampleRate: Int) {
        let header = WAVStream.header(sampleRate: sampleRate)
        #expect(header.count == 44)
        #expect(header.count == WAVStream.headerSize)
        #expect(header.prefix(4) == Data("RIFF".utf8))
        #expect(Fixtures.read(UInt32.self, header, at: 4) == 0xFFFF_FFFF)
        #expect(header[8..<12] == Data("WAVE".utf8))
        #expect(header[12..<16] == Data("fmt ".utf8))
        #expect(Fixtures.read(UInt32.self, header, at: 16) == 16)
        #expect(Fixtures.read(UInt16.self, header, at: 20) == 1)  // PCM
        #expect(Fixtures.read(UInt16.self, header, at: 22) == 1)  // mono
        #expect(Fixtures.read(UInt32.self, header, at: 24) == UInt32(sampleRate))
        #expect(Fixtures.read(UInt32.self, header, at: 28) == UInt32(sampleRate * 2))  // byte rate
        #expect(Fixtures.read(UInt16.self, header, at: 32) == 2)  // block align
        #expect(Fixtures.read(UInt16.self, header, at: 34) == 16)  // bits per sample
        #expect(header[36..<40] == Data("data".utf8))
        #expect(Fixtures.read(UInt32.self, header, at: 40) == 0xFFFF_FFFF)
    }

    @Test func pcm16IsLittleEndianClippedAndSilencesNaN() {
        let buffer = AudioBuffer(samples: [0, 0.5, -0.5, 1, -1, 2, -3, .nan, 1 / 32768], sampleRate: 16000)
        let bytes = [UInt8](WAVStream.pcm16(buffer))
        #expect(bytes == [
            0x00, 0x00,  // 0
            0x00, 0x40,  // 16384
            0x00, 0xC0,  // -16384
            0xFF, 0x7F,  // 32767: +1 is clipped to the largest value
            0x00, 0x80,  // -32768
            0xFF, 0x7F,  // 2 clipped
            0x00, 0x80,  // -3 clipped
            0x00, 0x00,  // NaN as silence
            0x01, 0x00,  // one step
        ])
    }

    @Test func headerFollowedByChunksDecodesAsOneRecording() throws {
        let first = Fixtures.sine(frequency: 300, amplitude: 0.4, seconds: 0.5, sampleRate: 24000)
        let second = Fixtures.sine(frequency: 500, amplitude: 0.3, seconds: 0.25, sampleRate: 24000)
        var stream = WAVStream.header(sampleRate: 24000)
        stream.append(WAVStream.pcm16(first))
        stream.append(WAVStream.pcm16(second))

        let decoded = try AudioDecoder().decode(stream)
        #expect(decoded.sampleRate == 24000)
        #expect(decoded.samples.count == first.samples.count + second.samples.count)
        #expect(Fixtures.maxDifference(decoded.samples, first.samples + second.samples) <= 0.5 / 32768)
    }
}
