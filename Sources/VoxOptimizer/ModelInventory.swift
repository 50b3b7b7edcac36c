import Foundation
import VoxCore

/// The components of one model and the precision variants of each that are present on disk.
public struct ModelInventory: Sendable, Equatable, Codable {
    /// The model's name, for example "chatterbox-turbo" or "en_US-joe-medium".
    public var model: String
    public var components: [ModelComponent]

    public init(model: String, components: [ModelComponent]) {
        self.model = model
        self.components = components
    }

    /// Builds an inventory from ONNX file names and their sizes (external data files such as
    /// `language_model.onnx_data` are added to the size of `language_model.onnx`).
    /// `staticShapeComponents` names the graphs whose engine runs them with fixed shapes.
    public init(model: String, files: [String: UInt64], staticShapeComponents: Set<String> = []) {
        var variants: [String: [ModelVariant]] = [:]
        for name in files.keys.sorted() {
            guard let (component, precision) = ModelPrecision.parse(fileName: name) else { continue }
            let dataBytes = files.filter { $0.key.hasPrefix(name + "_data") || $0.key.hasPrefix(name + ".data") }.values.reduce(0, +)
            variants[component, default: []].append(ModelVariant(precision, bytes: (files[name] ?? 0) + dataBytes))
        }
        self.init(
            model: model,
            components: variants.keys.sorted().map {
                ModelComponent(name: $0, variants: variants[$0] ?? [], hasStaticShapes: staticShapeComponents.contains($0))
            }
        )
    }

    /// Lists the ONNX variants in a model directory.
    public init(model: String, scanning directory: URL, staticShapeComponents: Set<String> = []) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw VoxError.io("Cannot list the model directory \(directory.path): \(error.localizedDescription)", path: directory.path)
        }
        var files: [String: UInt64] = [:]
        for name in names {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            files[name] = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        }
        self.init(model: model, files: files, staticShapeComponents: staticShapeComponents)
        if components.isEmpty {
            throw VoxError.modelNotFound(directory.appendingPathComponent("*.onnx").path)
        }
    }

    public func component(named name: String) -> ModelComponent? { components.first { $0.name == name } }
}
