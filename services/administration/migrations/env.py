from pentad.migrate import run_env
from services.administration.models import Base

run_env(Base.metadata)
