import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxCore
@testable import VoxServer

@Suite struct AuthRouteTests {
    let config = ServerConfiguration(apiKey: "s3cret-key")

    @Test func missingOrWrongKeyIs401AndTheRightKeyPasses() async throws {
        try await makeApp(config).test(.router) { client in
            let missing = try await client.execute(uri: "/v1/voices", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(try errorBody(missing).type == "authentication_error")
            #expect(missing.headers[.wwwAuthenticate] == "Bearer")
            let wrong = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer s3cret-kez"])
            #expect(wrong.status == .unauthorized)
            let notBearer = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Basic s3cret-key"])
            #expect(notBearer.status == .unauthorized)
            let speech = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Hi"]))
            #expect(speech.status == .unauthorized)
            let right = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer s3cret-key"])
            #expect(right.status == .ok)
        }
    }

    @Test func healthMetricsAndThePageNeedNoKey() async throws {
        try await makeApp(config).test(.router) { client in
            let r1 = try await client.execute(uri: "/healthz", method: .get)
            #expect(r1.status == .ok)
            let r2 = try await client.execute(uri: "/metrics", method: .get)
            #expect(r2.status == .ok)
            let r3 = try await client.execute(uri: "/", method: .get)
            #expect(r3.status == .ok)
        }
    }
}

@Suite struct SystemRouteTests {
    @Test func healthReportsIsolationPlanAndQueue() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            let body = try #require(try JSONSerialization.jsonObject(with: response.body.data) as? [String: Any])
            #expect(body["status"] as? String == "ok")
            #expect(body["isolation"] as? String == "inprocess")
            #expect((body["plan"] as? String)?.isEmpty == false)
            #expect((body["queue"] as? [String: Any])?["max_concurrent"] as? Int == 2)
            #expect(body["authentication"] as? Bool == false)
            #expect(body["max_text_length"] as? Int == SynthesisRequest.maxTextLength)
        }
    }

    @Test func modelsListPiperInOpenAIShape() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(uri: "/v1/models", method: .get)
            let body = try #require(try JSONSerialization.jsonObject(with: response.body.data) as? [String: Any])
            #expect(body["object"] as? String == "list")
            let models = try #require(body["data"] as? [[String: Any]])
            #expect(models.contains { $0["id"] as? String == "piper" && $0["object"] as? String == "model" })
        }
    }

    @Test func thePageIsSelfContainedHTML() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(uri: "/", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
            let html = String(buffer: response.body)
            #expect(html.contains("/v1/audio/speech"))
            #expect(html.contains("/v1/voices"))
            #expect(!html.contains("http://") && !html.contains("https://"))  // nothing external: works offline
        }
    }

    @Test func unknownRoutesAndMethodsGetJSONErrors() async throws {
        try await makeApp().test(.router) { client in
            let unknown = try await client.execute(uri: "/v2/nothing", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try errorBody(unknown).code == "not_found")
            let method = try await client.execute(uri: "/v1/audio/speech", method: .get)
            #expect(method.status == .methodNotAllowed)
            #expect(try errorBody(method).code == "method_not_allowed")
        }
    }

    @Test func metricsCountRequestsByRouteAndStatusAndExportSynthesisHistograms() async throws {
        try await makeApp().test(.router) { client in
            _ = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Count me.", "response_format": "wav", "stream": false]))
            _ = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Count me.", "voice": "nobody"]))
            _ = try await client.execute(uri: "/nowhere", method: .get)
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: response.body)
            #expect(text.contains(#"voxserve_http_requests_total{route="/v1/audio/speech",method="POST",status="200"} 1"#))
            #expect(text.contains(#"voxserve_http_requests_total{route="/v1/audio/speech",method="POST",status="404"} 1"#))
            #expect(text.contains(#"voxserve_http_requests_total{route="NotFound",method="GET",status="404"} 1"#))
            #expect(text.contains(#"voxserve_synthesis_real_time_factor_count{stream="false"} 1"#))
            #expect(text.contains(#"voxserve_voice_cache_requests_total{result="none"} 1"#))
            #expect(text.contains("voxserve_queue_depth 0"))
            #expect(text.contains("voxserve_plan_fallbacks_total 0"))
            #expect(text.contains("voxserve_conditioning_cache_hits_total"))
            #expect(text.contains("voxserve_http_request_duration_seconds_bucket"))
        }
    }
}
