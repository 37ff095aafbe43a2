using System.Text.Json.Nodes;

namespace EventSync.Connectors.Sync;

/// <summary>One field both sides changed differently since they last agreed.</summary>
public sealed record FieldConflict(string Field, JsonNode? Base, JsonNode? Source, JsonNode? Target, bool SourceWon);

/// <summary>
/// What a sync from a source system to a target system writes. <see cref="Target"/> is the target's new content,
/// <see cref="NewBase"/> the agreed version to remember for the pair.
/// </summary>
public sealed record MergeResult(SyncDocument Target, SyncDocument NewBase, IReadOnlyList<FieldConflict> Conflicts, bool TargetChanged);

/// <summary>
/// Field-by-field three-way merge of a change travelling from a source to a target. Only what the source changed since
/// the pair last agreed travels; what the target changed on its own stays (and travels back through the reverse flow,
/// because the new base keeps the old value for it). Where both changed a field differently, the preferred side wins
/// and the conflict is reported so the losing value can be kept.
/// </summary>
public static class ThreeWayMerge
{
    /// <param name="baseDoc">The pair's last agreed version; null when they never synced (every field then counts as changed on both sides).</param>
    /// <param name="target">The target's current version; null when the target has no such document yet.</param>
    /// <param name="sourceHolds">Fields the source system can hold (others are not its to change).</param>
    /// <param name="targetHolds">Fields the target system can hold (others are not written to it).</param>
    /// <param name="sourceWins">The conflict policy, asked per field.</param>
    public static MergeResult Merge(SyncDocument? baseDoc, SyncDocument source, SyncDocument? target, Func<string, bool> sourceHolds, Func<string, bool> targetHolds, Func<string, bool> sourceWins)
    {
        var merged = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (k, v) in target?.Fields ?? []) merged[k] = v.DeepClone();
        var mergedBody = target?.Body ?? "";
        var newBase = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (k, v) in baseDoc?.Fields ?? []) newBase[k] = v.DeepClone();
        var newBaseBody = baseDoc?.Body ?? "";
        var conflicts = new List<FieldConflict>();

        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var d in new[] { baseDoc, source, target })
            if (d is not null) names.UnionWith(d.Names);

        foreach (var field in names)
        {
            if (!sourceHolds(field)) continue;
            var s = source.Get(field);
            var b = baseDoc?.Get(field);
            var sourceChanged = baseDoc is null ? s is not null : !SyncDocument.ValueEquals(s, b);
            if (!sourceChanged) continue;
            Set(newBase, ref newBaseBody, field, s);
            if (!targetHolds(field)) continue;
            var t = target?.Get(field);
            var targetChanged = target is not null && (baseDoc is null ? t is not null : !SyncDocument.ValueEquals(t, b));
            if (targetChanged && !SyncDocument.ValueEquals(t, s))
            {
                var wins = sourceWins(field);
                conflicts.Add(new FieldConflict(field, b?.DeepClone(), s?.DeepClone(), t?.DeepClone(), wins));
                if (!wins) continue;
            }
            Set(merged, ref mergedBody, field, s);
        }

        var result = new SyncDocument(merged, mergedBody, target?.EditedAt);
        var changed = target is null || result.ToSnapshot() != target.ToSnapshot();
        return new MergeResult(result, new SyncDocument(newBase, newBaseBody), conflicts, changed);
    }

    private static void Set(Dictionary<string, JsonNode?> fields, ref string body, string field, JsonNode? value)
    {
        if (field == SyncDocument.BodyField) body = SyncDocument.Display(value);
        else if (value is null) fields.Remove(field);
        else fields[field] = value.DeepClone();
    }
}
