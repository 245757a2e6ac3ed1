// Command tests redirect Console.Out/Error, which are process-wide: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
