import Foundation

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

extension Double {
    /// The value with `decimals` digits after the point, for messages and headers.
    public func formatted(decimals: Int) -> String { String(format: "%.\(decimals)f", self) }
}
