/// Summaries of a classifier's answers against labels. Labels and answers are option indices
/// (0, 1, …); callers drop unlabelled rows first.
public enum Classification {
    /// Mean over the classes present in `labels` of the share of that class answered correctly
    /// (recall). A rule that always gives one answer scores 1/(number of classes) whatever the
    /// class balance; nil when there are no labels.
    public static func balancedAccuracy(labels: [Int], answers: [Int]) -> Double? {
        precondition(labels.count == answers.count, "one answer per label")
        var total: [Int: Int] = [:], right: [Int: Int] = [:]
        for (label, answer) in zip(labels, answers) {
            total[label, default: 0] += 1
            if label == answer { right[label, default: 0] += 1 }
        }
        guard !total.isEmpty else { return nil }
        let recalls = total.keys.sorted().map { Double(right[$0] ?? 0) / Double(total[$0] ?? 1) }
        return recalls.reduce(0, +) / Double(recalls.count)
    }

    /// How often the most frequent value occurs, and which value it is (the smallest on a tie);
    /// nil for no values. For labels this is the accuracy of always answering the majority class;
    /// for a head's answers it is its answer share (1: the head always gives the same answer).
    public static func mostFrequent(_ values: [Int]) -> (value: Int, count: Int)? {
        var counts: [Int: Int] = [:]
        for value in values { counts[value, default: 0] += 1 }
        return counts.min { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { ($0.key, $0.value) }
    }

    /// The share of the most frequent value; nil for no values.
    public static func majorityShare(_ values: [Int]) -> Double? {
        mostFrequent(values).map { Double($0.count) / Double(values.count) }
    }

    /// Paired correctness of two rules on the same rows: how often only the first is right and
    /// how often only the second, the discordant pairs McNemar's test uses.
    public static func discordantPairs(labels: [Int], first: [Int], second: [Int]) -> (onlyFirst: Int, onlySecond: Int) {
        precondition(labels.count == first.count && labels.count == second.count, "one answer per label")
        var onlyFirst = 0, onlySecond = 0
        for i in labels.indices {
            let a = first[i] == labels[i], b = second[i] == labels[i]
            if a && !b { onlyFirst += 1 } else if b && !a { onlySecond += 1 }
        }
        return (onlyFirst, onlySecond)
    }
}
