import Foundation

extension DatasetFormat {
    /// Tells the format of a file or folder from its content: JSON Lines with `prompt` (ours) or
    /// `questions` (PARARULE-Plus); JSON with `samples` (Multi-LogiEval), a list of records with
    /// `options` and `answer` or a dict of `test_example`s (ProntoQA). A folder is told by its
    /// first file of either extension.
    public static func detect(_ url: URL) throws(DatasetError) -> DatasetFormat {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DatasetError(url.path, "no such file or folder")
        }
        if isDirectory.boolValue {
            for fileExtension in ["jsonl", "json"] {
                if let first = try? InputFile.files(at: url, withExtension: fileExtension).first { return try detect(first) }
            }
            throw DatasetError(url.path, "the folder holds no .jsonl or .json file")
        }
        let bytes = try InputFile.textBytesAllowingCP1252(of: url)
        if url.pathExtension.lowercased() == "jsonl" {
            let firstLine = bytes.split(separator: UInt8(ascii: "\n")).first { !$0.allSatisfy { $0 == 32 || $0 == 13 || $0 == 9 } }
            guard let firstLine, case .object(let record) = try InputFile.jsonDocument(Array(firstLine), path: "\(url.path):1") else {
                throw DatasetError(url.path, "cannot tell the format: the first line is not a JSON object; pass --dataset-format")
            }
            if record["prompt"] != nil { return .prompts }
            if record["questions"] != nil { return .pararule }
            if record["choices"] != nil { return .multiplechoice }
            throw DatasetError(url.path, "cannot tell the format: the first line has neither \"prompt\", \"questions\" nor \"choices\"; pass --dataset-format")
        }
        switch try InputFile.jsonDocument(bytes, path: url.path) {
        case .object(let document) where document["samples"] != nil:
            return .multilogieval
        case .object(let document) where document.members.contains(where: { member in
            if case .object(let example) = member.value { return example["test_example"] != nil }
            return false
        }):
            return .prontoqa
        case .array(let records):
            if case .object(let first)? = records.first, first["options"] != nil, first["answer"] != nil { return .prontoqa }
            fallthrough
        default:
            throw DatasetError(url.path, "cannot tell the format of this JSON file; pass --dataset-format")
        }
    }
}
