using System.Reflection;
using System.Runtime.ExceptionServices;
using EventSync.Core.Storage;

namespace EventSync.Tests.Infrastructure;

/// <summary>
/// A real store behind a proxy that sees each call first: to count calls, or to fail some like a broken session.
/// Subclasses stay unsealed: DispatchProxy generates a type derived from them.
/// </summary>
public abstract class StoreProxy : DispatchProxy
{
    private IEventStore _inner = null!;

    public static IEventStore Wrap<TProxy>(IEventStore inner, out TProxy proxy) where TProxy : StoreProxy
    {
        var store = Create<IEventStore, TProxy>();
        proxy = (TProxy)(object)store;
        proxy._inner = inner;
        return store;
    }

    /// <summary>Called before each call; a non-null result is returned instead of calling the store.</summary>
    protected abstract object? Before(MethodInfo method);

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (Before(targetMethod!) is { } replaced) return replaced;
        try
        {
            return targetMethod!.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}
