package main

import (
	"context"

	"github.com/pulumi/pulumi-go-provider/infer"

	"pulumi-mtls-nginx/engine/command/remote"
)

// RemoteCommand is command:remote:Command: commands run over SSH.
type RemoteCommand struct{}

func (c *RemoteCommand) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Command")
	a.Describe(&c, "Runs commands on a host over SSH (mtls-nginx test stand-in for pulumi-command).")
}

// RemoteCommandInputs mirror @pulumi/command 1.2.1's remote.CommandArgs. The connection is
// secret as a whole; a change to it is an in-place update like any other non-trigger input.
type RemoteCommandInputs struct {
	lifecycle
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *remote.Logging   `pulumi:"logging,optional"`
	Connection             *Connection       `pulumi:"connection" provider:"secret"`
	Environment            map[string]string `pulumi:"environment,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
}

// RemoteCommandState is every input plus what the last create or update printed.
type RemoteCommandState struct {
	RemoteCommandInputs
	printed
}

func (*RemoteCommand) Create(ctx context.Context, req infer.CreateRequest[RemoteCommandInputs]) (infer.CreateResponse[RemoteCommandState], error) {
	state := RemoteCommandState{RemoteCommandInputs: req.Inputs}
	id, err := newResourceID(req.Name)
	if err != nil {
		return infer.CreateResponse[RemoteCommandState]{Output: state}, err
	}
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[RemoteCommandState]{ID: id, Output: state}, nil
	}
	state.printed, err = runRemote(ctx, *req.Inputs.Create, req.Inputs, state.printed)
	return infer.CreateResponse[RemoteCommandState]{ID: id, Output: state}, err
}

func (*RemoteCommand) Update(ctx context.Context, req infer.UpdateRequest[RemoteCommandInputs, RemoteCommandState]) (infer.UpdateResponse[RemoteCommandState], error) {
	state := RemoteCommandState{RemoteCommandInputs: req.Inputs, printed: req.State.printed}
	command := req.Inputs.updateCommand()
	if req.DryRun || command == nil {
		return infer.UpdateResponse[RemoteCommandState]{Output: state}, nil
	}
	var err error
	state.printed, err = runRemote(ctx, *command, req.Inputs, state.printed)
	return infer.UpdateResponse[RemoteCommandState]{Output: state}, err
}

// Delete connects with the connection recorded in the state, so a host whose address
// changed in the same deployment is cleaned up where the resource was created.
func (*RemoteCommand) Delete(ctx context.Context, req infer.DeleteRequest[RemoteCommandState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, err := runRemote(ctx, *req.State.Delete, req.State.RemoteCommandInputs, req.State.printed)
	return infer.DeleteResponse{}, err
}
