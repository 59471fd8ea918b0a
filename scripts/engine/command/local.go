package main

import (
	"context"
	"fmt"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/infer/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"pulumi-mtls-nginx/engine/command/local"
)

// LocalCommand is command:local:Command: commands run on the machine running the engine.
type LocalCommand struct{}

func (c *LocalCommand) Annotate(a infer.Annotator) {
	a.SetToken("local", "Command")
	a.Describe(&c, "Runs commands on the local machine (mtls-nginx test stand-in for pulumi-command).")
}

// LocalCommandInputs mirror @pulumi/command 1.2.1's local.CommandArgs.
type LocalCommandInputs struct {
	lifecycle
	localProcess
}

// localProcess is how the command's process is started. assetPaths and archivePaths are
// declared so that programs setting them get a clear check failure instead of a decode error.
type localProcess struct {
	Stdin                  *string            `pulumi:"stdin,optional"`
	Logging                *local.Logging     `pulumi:"logging,optional"`
	Interpreter            *[]string          `pulumi:"interpreter,optional"`
	Dir                    *string            `pulumi:"dir,optional"`
	Environment            *map[string]string `pulumi:"environment,optional"`
	AssetPaths             *[]string          `pulumi:"assetPaths,optional"`
	ArchivePaths           *[]string          `pulumi:"archivePaths,optional"`
	AddPreviousOutputInEnv *bool              `pulumi:"addPreviousOutputInEnv,optional"`
}

// LocalCommandState is every input plus what the last create or update printed. assets and
// archive are declared (never set) only so that the schema matches the original's.
type LocalCommandState struct {
	LocalCommandInputs
	printed
	Assets  *map[string]*types.AssetOrArchive `pulumi:"assets,optional"`
	Archive *resource.Archive                 `pulumi:"archive,optional"`
}

// printed is the captured output of the last successful create or update.
type printed struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

// Check refuses the inputs this stand-in does not implement, after infer's own checks.
func (*LocalCommand) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[LocalCommandInputs], error) {
	inputs, failures, err := infer.DefaultCheck[LocalCommandInputs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[LocalCommandInputs]{Inputs: inputs, Failures: failures}, err
	}
	failures = append(failures, unsupported("assetPaths", inputs.AssetPaths != nil)...)
	failures = append(failures, unsupported("archivePaths", inputs.ArchivePaths != nil)...)
	return infer.CheckResponse[LocalCommandInputs]{Inputs: inputs, Failures: failures}, nil
}

func unsupported(property string, set bool) []p.CheckFailure {
	if !set {
		return nil
	}
	return []p.CheckFailure{{
		Property: property,
		Reason:   fmt.Sprintf("%s is not implemented by the mtls-nginx stand-in for pulumi-command", property),
	}}
}

func (*LocalCommand) Create(ctx context.Context, req infer.CreateRequest[LocalCommandInputs]) (infer.CreateResponse[LocalCommandState], error) {
	state := LocalCommandState{LocalCommandInputs: req.Inputs}
	id, err := newResourceID(req.Name)
	if err != nil || req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[LocalCommandState]{ID: id, Output: state}, err
	}
	state.printed, err = runLocal(ctx, *req.Inputs.Create, req.Inputs.localProcess, state.printed)
	return infer.CreateResponse[LocalCommandState]{ID: id, Output: state}, err
}

// Update keeps the previous output until a command runs; the command sees it in its
// environment (addPreviousOutputInEnv).
func (*LocalCommand) Update(ctx context.Context, req infer.UpdateRequest[LocalCommandInputs, LocalCommandState]) (infer.UpdateResponse[LocalCommandState], error) {
	state := req.State
	state.LocalCommandInputs = req.Inputs
	command := req.Inputs.updateCommand()
	if req.DryRun || command == nil {
		return infer.UpdateResponse[LocalCommandState]{Output: state}, nil
	}
	var err error
	state.printed, err = runLocal(ctx, *command, req.Inputs.localProcess, state.printed)
	return infer.UpdateResponse[LocalCommandState]{Output: state}, err
}

func (*LocalCommand) Delete(ctx context.Context, req infer.DeleteRequest[LocalCommandState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, err := runLocal(ctx, *req.State.Delete, req.State.localProcess, req.State.printed)
	return infer.DeleteResponse{}, err
}
