import Foundation
import Reports
import Statistics

extension HeadSelection {
    /// The selection as a terminal table, CSV, Markdown or JSON (the `HeadSelection` document).
    ///
    /// Table and Markdown show, in order: the sets; the transfer table (calibration sets as rows,
    /// every set as a column; each cell is best head / majority vote / z-sum / model accuracy);
    /// per calibration set, its heads and ensembles on every set; then accuracy by steps and by
    /// distractors on every set. CSV is one long table, one row per rule, set and group.
    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            // Strings, integers and finite doubles only (empty groups are nil), so encoding cannot fail.
            return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self) + "\n"
        case .csv:
            return longTable.csv
        case .table:
            return ([headline + heldOutSentences.map { $0 + "\n" }.joined()]
                    + sections.map { "\($0.title)\n" + $0.table.aligned }).joined(separator: "\n")
        case .markdown:
            return ([headline + heldOutSentences.map { "\n" + $0 + "\n" }.joined()]
                    + sections.map { "### \($0.title)\n\n" + $0.table.markdown }).joined(separator: "\n")
        }
    }

    private var headline: String {
        "Top \(topK) heads by accuracy on each calibration set; model \(modelName) (sha256 \(short(modelSHA256))), "
            + "q/k \(qkRope)-rotary, scale \(qkScale)"
            + (split.map { ", split \(Int(($0.fraction * 100).rounded()))% calibration with seed \($0.seed)" } ?? "") + "\n"
            + "Intervals are 95% Wilson; McNemar p compares a rule with the model on the same rows; chance p is a "
            + "label permutation test of that one rule (\(permutations) permutations, seed \(permutationSeed)). Heads are "
            + "chosen on the calibration set, so only test sets give held-out evidence; \"calibrated\" rules add "
            + "per-option offsets fitted on the calibration rows.\n"
    }

    /// One sentence per calibration and test set on the best calibration head there: the
    /// headline result of a selection.
    public var heldOutSentences: [String] {
        choices.flatMap { choice in
            zip(sets, choice.results).compactMap { set, result -> String? in
                guard set.role == "test", let best = result.rules.first, let model = result.rule(RuleAccuracy.model),
                      let accuracy = best.accuracy else { return nil }
                let calibrated = result.rule(best.rule + RuleAccuracy.calibratedSuffix)
                var sentence = "Held out on \(set.name) (n = \(result.n)): \(best.rule), the best head of \(choice.calibration), "
                    + "scores \(percent(accuracy)) \(interval(best.ci95)), the model \(percent(model.accuracy)) \(interval(model.ci95))"
                    + (best.vsModel.map { " (McNemar p = \(pValue($0.p)))" } ?? "")
                    + "; chance p = \(best.chanceP.map(pValue) ?? "-")"
                    + "; always answering the majority class scores \(percent(result.majorityClassAccuracy))"
                if let calibrated, let value = calibrated.accuracy {
                    sentence += "; with its option offsets \(percent(value)) \(interval(calibrated.ci95)) (chance p = \(calibrated.chanceP.map(pValue) ?? "-"))"
                }
                let verdict = (best.chanceP ?? 1) <= 0.05 ? "it beats chance on held-out rows"
                    : "it does not beat chance on held-out rows"
                return sentence + ": " + verdict + "."
            }
        }
    }

    private var sections: [(title: String, table: TextTable)] {
        var sections = [
            ("Sets", TextTable(columns: ["set", "role", "dataset", "labelled"],
                               rows: sets.map { [$0.name, $0.role, $0.datasetName, "\($0.labelled) of \($0.samples)"] })),
            ("Transfer: best head / majority vote / z-sum / model, accuracy in %",
             TextTable(columns: ["calibration \\ set"] + sets.map(\.name),
                       rows: choices.map { choice in [choice.calibration] + choice.results.map(transferCell) })),
        ]
        for choice in choices {
            let columns = ["set", "rule", "n", "accuracy", "95% CI", "balanced", "answer share", "vs model", "McNemar p", "chance p"]
            var rows: [[String]] = []
            for (set, result) in zip(sets, choice.results) {
                rows += result.rules.map { rule in
                    [set.name + (set.role == "calibration" ? " (calibration)" : ""), label(rule.rule), "\(rule.count)",
                     percent(rule.accuracy), interval(rule.ci95), percent(rule.balancedAccuracy), percent(rule.answerShare),
                     rule.vsModel?.difference.map { points(Float($0)) } ?? "", rule.vsModel.map { pValue($0.p) } ?? "",
                     rule.chanceP.map(pValue) ?? "-"]
                } + [[set.name, "always the majority class", "\(result.n)", percent(result.majorityClassAccuracy), "", "", "100.0%", "", "", ""]]
            }
            sections.append(("Statistics of the heads of \(choice.calibration)", TextTable(columns: columns, rows: rows)))
        }
        for choice in choices {
            sections.append(("Top \(topK) heads of \(choice.calibration)",
                             TextTable(columns: ["rule"] + sets.map(\.name),
                                       rows: ruleNames.indices.map { r in
                                           [label(choice.results[0].rules[r].rule)] + choice.results.map { percent($0.rules[r].accuracy) }
                                       })))
        }
        for choice in choices {
            for result in choice.results {
                for (grouping, groups) in [("steps", \RuleAccuracy.bySteps), ("distractors", \RuleAccuracy.byDistractors)] {
                    let columns = result.rules.last?[keyPath: groups] ?? []
                    guard !columns.isEmpty else { continue }
                    let table = TextTable(
                        columns: ["rule"] + columns.map { "\(grouping)=\($0.value) (n=\($0.count))" },
                        rows: result.rules.map { [label($0.rule)] + $0[keyPath: groups].map { percent($0.accuracy) } })
                    sections.append(("By \(grouping) on \(result.set), heads of \(choice.calibration)", table))
                }
            }
        }
        return sections
    }

    /// The rules of every result, in order: the heads, the ensembles, the model.
    private var ruleNames: [String] { choices.first?.results.first?.rules.map(\.rule) ?? [] }

    private func label(_ rule: String) -> String {
        switch rule {
        case RuleAccuracy.majorityVote: "majority vote (top \(topK))"
        case RuleAccuracy.zSum: "z-sum (top \(topK))"
        default: rule
        }
    }

    private func transferCell(_ result: SetResult) -> String {
        let numbers = [result.rules.first, result.rule(RuleAccuracy.majorityVote), result.rule(RuleAccuracy.zSum),
                       result.rule(RuleAccuracy.model)]
        return numbers.map { $0?.accuracy.map { String(format: "%.1f", $0 * 100) } ?? "-" }.joined(separator: " / ")
    }

    /// One row per calibration set, set, rule and group ("all", or a steps or distractors value).
    private var longTable: TextTable {
        var rows: [[String]] = []
        for choice in choices {
            for result in choice.results {
                for rule in result.rules {
                    let prefix = [choice.calibration, result.set, rule.rule]
                    rows.append(prefix + ["all", "", "\(rule.correct)", "\(rule.count)", rule.accuracy.map { "\($0)" } ?? ""])
                    for (grouping, groups) in [("steps", rule.bySteps), ("distractors", rule.byDistractors)] {
                        rows += groups.map { prefix + [grouping, "\($0.value)", "\($0.correct)", "\($0.count)", "\($0.accuracy)"] }
                    }
                }
            }
        }
        return TextTable(columns: ["calibration", "set", "rule", "grouping", "value", "correct", "count", "accuracy"], rows: rows)
    }
}

/// A stored [low, high] interval as "[46.4, 52.0]" (percent).
private func interval(_ pair: [Double]?) -> String {
    guard let pair, pair.count == 2 else { return "-" }
    return Reports.interval(pair[0]...pair[1])
}
