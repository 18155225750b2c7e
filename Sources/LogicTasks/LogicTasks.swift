// Logic tasks: generator, checker, loaders for public benchmarks, prompt templates.
