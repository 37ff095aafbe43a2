using System.Text.Json;
using EventSync.Core.Configuration;
using EventSync.Core.Storage;

namespace EventSync.Core.Work;

/// <summary>Turns a verified event into the jobs its source's flows ask for.</summary>
public sealed class FlowRouter
{
    private readonly Dictionary<string, (FlowOptions Flow, JsonPath Key)[]> _bySource;

    public FlowRouter(EventSyncConfig config) =>
        _bySource = config.Flows.GroupBy(f => f.From).ToDictionary(g => g.Key, g => g.Select(f => (f, JsonPath.Parse(f.Key))).ToArray());

    /// <summary>
    /// The jobs for one event. The entity key comes from the flow's JSON path; an event without that value gets its
    /// own key (its delivery id), so it is still synced, just not coalesced.
    /// </summary>
    public IReadOnlyList<JobRequest> Route(string source, string eventType, string deliveryId, JsonElement payload)
    {
        if (!_bySource.TryGetValue(source, out var flows)) return [];
        List<JobRequest>? jobs = null;
        foreach (var (flow, key) in flows)
        {
            if (!Matches(flow.Events, eventType) || !OnBranch(flow, payload)) continue;
            var entity = key.Evaluate(payload) ?? "delivery:" + deliveryId;
            (jobs ??= []).Add(new JobRequest(flow.Name, entity.Length > 512 ? entity[..512] : entity, flow.To, flow.Settle, flow.MaxWait));
        }
        return (IReadOnlyList<JobRequest>?)jobs ?? [];
    }

    /// <summary>A flow with branches takes pushes to those branches only; events without a ref (releases, dispatches) pass.</summary>
    private static bool OnBranch(FlowOptions flow, JsonElement payload)
    {
        if (flow.Branches.Count == 0 || payload.ValueKind != JsonValueKind.Object || !payload.TryGetProperty("ref", out var r) || r.ValueKind != JsonValueKind.String) return true;
        var name = r.GetString()!;
        return name.StartsWith("refs/heads/", StringComparison.Ordinal) && flow.Branches.Contains(name["refs/heads/".Length..]);
    }

    /// <summary>"*" matches all; "release" matches "release" and "release.published"; "page.*" matches "page.created".</summary>
    public static bool Matches(IReadOnlyList<string> patterns, string eventType)
    {
        foreach (var p in patterns)
        {
            if (p == "*" || p == eventType) return true;
            if (p.EndsWith(".*", StringComparison.Ordinal) && eventType.StartsWith(p[..^1], StringComparison.Ordinal)) return true;
            if (eventType.Length > p.Length && eventType[p.Length] == '.' && eventType.StartsWith(p, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
